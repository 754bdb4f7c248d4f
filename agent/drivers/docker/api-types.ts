/**
 * The parts of the Docker Engine API's objects the agent reads and writes; the engine sends
 * more. Field names are the API's.
 */

/** GET /containers/json */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Labels: Record<string, string>;
  Mounts: { Type: string; Source: string; Destination: string }[];
}

/** GET /containers/{id}/json */
export interface ContainerInspect {
  Id: string;
  Name: string;
  /** Image id. */
  Image: string;
  /** `User`: who `exec` runs as unless told (empty: the image's default, root). */
  Config: { Image: string; Env: string[]; Labels: Record<string, string>; User?: string };
  Mounts?: { Type: string; Source: string; Destination: string; RW: boolean }[];
  State: {
    Status: string;
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    ExitCode: number;
    Health?: { Status: string };
  };
  HostConfig: { RestartPolicy?: { Name?: string } };
  NetworkSettings: {
    Networks: Record<string, { NetworkID: string; IPAddress: string }>;
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null | undefined>;
  };
}

/** GET /networks */
export interface NetworkSummary {
  Id: string;
  Name: string;
  Internal: boolean;
  Labels: Record<string, string> | null;
}

/** An entry of GET /volumes */
export interface VolumeSummary {
  Name: string;
  Labels: Record<string, string> | null;
}

/** GET /images/json */
export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
}

/** GET /exec/{id}/json */
export interface ExecInspect {
  Running: boolean;
  ExitCode: number | null;
}

/** A mount of a container to create. */
export interface MountSpec {
  Type: 'bind' | 'volume' | 'tmpfs';
  Source: string;
  Target: string;
  ReadOnly: boolean;
}

/** POST /containers/create: `name` goes in the query, the rest is the body. */
export interface ContainerCreateOptions {
  name: string;
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  StopTimeout?: number;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  AttachStdin?: boolean;
  Healthcheck?: { Test: string[]; Interval: number; Timeout: number; Retries: number; StartPeriod: number };
  HostConfig?: {
    PortBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
    RestartPolicy?: { Name: string };
    Mounts?: MountSpec[];
    Memory?: number;
    NetworkMode?: string;
  };
  NetworkingConfig?: { EndpointsConfig: Record<string, { Aliases?: string[] }> };
}

/** POST /containers/{id}/exec */
export interface ExecCreateOptions {
  Cmd: string[];
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Env?: string[];
  User?: string;
}

/** POST /networks/create */
export interface NetworkCreateOptions {
  Name: string;
  Driver?: string;
  Internal?: boolean;
  CheckDuplicate?: boolean;
  Labels?: Record<string, string>;
}

/** Credentials for a pull, sent base64-encoded in X-Registry-Auth. */
export interface RegistryAuthConfig {
  username: string;
  password: string;
  serveraddress: string;
}
