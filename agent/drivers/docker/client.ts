import type { Readable, Duplex } from 'node:stream';
import type {
  ContainerCreateOptions,
  ContainerInspect,
  ContainerSummary,
  ExecCreateOptions,
  ExecInspect,
  ImageSummary,
  NetworkCreateOptions,
  NetworkSummary,
  RegistryAuthConfig,
  VolumeSummary,
} from './api-types.ts';
import { connectionFromEnv, EngineHttp, type DockerConnection } from './engine-http.ts';

export type * from './api-types.ts';
export { DockerApiError, type DockerConnection } from './engine-http.ts';

/** Label filters of a list call: `{ label: ['k=v', 'k'] }`. */
export type ListFilters = Record<string, string[]>;

/**
 * A small client of the Docker Engine API with the calls the agent makes, shaped like the same
 * subset of dockerode (`docker.getContainer(id).inspect()`), over node:http. Answers other
 * than 2xx reject with a `DockerApiError` carrying `statusCode`; a socket that cannot be
 * reached rejects with the system error (`code` ENOENT, ECONNREFUSED, …). Every path is sent
 * under the pinned API version (see ENGINE_API_VERSION), the version api-types.ts describes.
 */
export class DockerClient {
  private readonly http: EngineHttp;

  /** `options` default to `DOCKER_HOST` (see connectionFromEnv). */
  constructor(options?: DockerConnection) {
    this.http = new EngineHttp(options ?? connectionFromEnv());
  }

  listContainers(opts: { all?: boolean; filters?: ListFilters } = {}): Promise<ContainerSummary[]> {
    return this.http.json({ method: 'GET', path: '/containers/json', query: { all: opts.all, filters: opts.filters } });
  }

  listNetworks(): Promise<NetworkSummary[]> {
    return this.http.json({ method: 'GET', path: '/networks' });
  }

  /** `Volumes` is null on older engines when there are none. */
  listVolumes(): Promise<{ Volumes: VolumeSummary[] | null }> {
    return this.http.json({ method: 'GET', path: '/volumes' });
  }

  listImages(): Promise<ImageSummary[]> {
    return this.http.json({ method: 'GET', path: '/images/json' });
  }

  getContainer(id: string): Container {
    return new Container(this.http, id);
  }

  getNetwork(id: string): Network {
    return new Network(this.http, id);
  }

  getImage(name: string): Image {
    return new Image(this.http, name);
  }

  async createContainer(opts: ContainerCreateOptions): Promise<Container> {
    const { name, ...body } = opts;
    const res = await this.http.json<{ Id: string }>({
      method: 'POST',
      path: '/containers/create',
      query: { name },
      body,
    });
    return new Container(this.http, res.Id);
  }

  async createNetwork(opts: NetworkCreateOptions): Promise<Network> {
    const res = await this.http.json<{ Id: string }>({ method: 'POST', path: '/networks/create', body: opts });
    return new Network(this.http, res.Id);
  }

  createVolume(opts: { Name: string; Labels?: Record<string, string> }): Promise<VolumeSummary> {
    return this.http.json({ method: 'POST', path: '/volumes/create', body: opts });
  }

  async removeVolume(name: string): Promise<void> {
    await this.http.json({ method: 'DELETE', path: `/volumes/${encodeURIComponent(name)}` });
  }

  /**
   * Starts a pull (`POST /images/create`) and returns its JSON progress stream (see
   * followProgress), with the credentials in X-Registry-Auth when given.
   */
  createImage(
    target: { fromImage: string; tag: string },
    options: { authconfig?: RegistryAuthConfig; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    const auth = options.authconfig;
    return this.http.stream({
      method: 'POST',
      path: '/images/create',
      query: target,
      headers: auth === undefined ? {} : { 'X-Registry-Auth': encodeAuth(auth) },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }
}

/** A container by id or name; nothing is asked of the engine until a method is called. */
export class Container {
  constructor(
    private readonly http: EngineHttp,
    readonly id: string,
  ) {}

  private get path(): string {
    return `/containers/${encodeURIComponent(this.id)}`;
  }

  inspect(): Promise<ContainerInspect> {
    return this.http.json({ method: 'GET', path: `${this.path}/json` });
  }

  /** Rejects with status 304 when it is running already. */
  async start(): Promise<void> {
    await this.http.json({ method: 'POST', path: `${this.path}/start` });
  }

  /** Rejects with status 304 when it is stopped already. */
  async stop(): Promise<void> {
    await this.http.json({ method: 'POST', path: `${this.path}/stop` });
  }

  async kill(): Promise<void> {
    await this.http.json({ method: 'POST', path: `${this.path}/kill` });
  }

  async unpause(): Promise<void> {
    await this.http.json({ method: 'POST', path: `${this.path}/unpause` });
  }

  async rename(opts: { name: string }): Promise<void> {
    await this.http.json({ method: 'POST', path: `${this.path}/rename`, query: { name: opts.name } });
  }

  async remove(opts: { force?: boolean } = {}): Promise<void> {
    await this.http.json({ method: 'DELETE', path: this.path, query: { force: opts.force } });
  }

  /** Waits until it stops; resolves with its exit code. */
  wait(): Promise<{ StatusCode: number }> {
    return this.http.json({ method: 'POST', path: `${this.path}/wait` });
  }

  /**
   * The log so far as a stream, multiplexed for a container without a TTY: read it with
   * `readOutputTail` (bounded) or `demuxStream`, never into one buffer.
   */
  logs(opts: { stdout?: boolean; stderr?: boolean }): Promise<Readable> {
    return this.http.stream({
      method: 'GET',
      path: `${this.path}/logs`,
      query: { stdout: opts.stdout, stderr: opts.stderr, follow: false },
    });
  }

  /** Attaches to its streams; the connection is returned raw (ending it closes the container's stdin). */
  attach(opts: { stdin?: boolean; stdout?: boolean; stderr?: boolean }): Promise<Duplex> {
    return this.http.hijack({
      method: 'POST',
      path: `${this.path}/attach`,
      query: { stream: true, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr },
    });
  }

  /**
   * A file or directory of its filesystem as a tar stream (`docker cp`): read by the engine
   * from the container's filesystem, not through a process's output. Read it with `readTarFile`.
   */
  getArchive(opts: { path: string; signal?: AbortSignal }): Promise<Readable> {
    return this.http.stream({
      method: 'GET',
      path: `${this.path}/archive`,
      query: { path: opts.path },
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    });
  }

  async exec(opts: ExecCreateOptions): Promise<Exec> {
    const res = await this.http.json<{ Id: string }>({ method: 'POST', path: `${this.path}/exec`, body: opts });
    return new Exec(this.http, res.Id);
  }
}

/** A command created in a container (`docker exec`). */
export class Exec {
  constructor(
    private readonly http: EngineHttp,
    readonly id: string,
  ) {}

  /**
   * Starts it attached and returns the raw connection: the multiplexed output (see
   * demuxStream), and the command's stdin when the exec was created with AttachStdin.
   */
  start(): Promise<Duplex> {
    return this.http.hijack({
      method: 'POST',
      path: `/exec/${encodeURIComponent(this.id)}/start`,
      body: { Detach: false, Tty: false },
    });
  }

  inspect(): Promise<ExecInspect> {
    return this.http.json({ method: 'GET', path: `/exec/${encodeURIComponent(this.id)}/json` });
  }
}

/** A network by id or name. */
export class Network {
  constructor(
    private readonly http: EngineHttp,
    readonly id: string,
  ) {}

  async remove(): Promise<void> {
    await this.http.json({ method: 'DELETE', path: `/networks/${encodeURIComponent(this.id)}` });
  }

  async connect(opts: { Container: string; EndpointConfig?: { Aliases?: string[] } }): Promise<void> {
    await this.http.json({ method: 'POST', path: `/networks/${encodeURIComponent(this.id)}/connect`, body: opts });
  }

  async disconnect(opts: { Container: string; Force?: boolean }): Promise<void> {
    await this.http.json({ method: 'POST', path: `/networks/${encodeURIComponent(this.id)}/disconnect`, body: opts });
  }
}

/** An image by id or reference. */
export class Image {
  constructor(
    private readonly http: EngineHttp,
    readonly name: string,
  ) {}

  inspect(): Promise<{ Id: string }> {
    // References hold `/`, `:` and `@`, which the engine's route takes as they are.
    return this.http.json({ method: 'GET', path: `/images/${this.name}/json` });
  }
}

/** URL-safe base64 of the JSON, padded, as the docker CLI sends it (the engine wants the padding). */
function encodeAuth(auth: RegistryAuthConfig): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
