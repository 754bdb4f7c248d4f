/** A ref on the remote and the commit it points at. */
export interface RemoteRef {
  ref: string;
  oid: string;
}

/**
 * True when `ref` matches `pattern` (appliance.yml preflight.refs): segments compared one by
 * one, a `*` standing for any run of characters inside one segment, never across a `/`.
 */
export function refMatches(pattern: string, ref: string): boolean {
  const want = pattern.split('/');
  const have = ref.split('/');
  if (want.length !== have.length) return false;
  return want.every((w, i) => segmentMatches(w, have[i] ?? ''));
}

function segmentMatches(pattern: string, segment: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === segment;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!segment.startsWith(first) || segment.length < first.length + last.length) return false;
  let at = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = segment.indexOf(middle, at);
    if (found < 0) return false;
    at = found + middle.length;
  }
  return segment.length - last.length >= at && segment.endsWith(last);
}

/** The refs matching any of `patterns`, sorted by name; each commit once (the first ref naming it). */
export function reviewHeads(patterns: readonly string[], refs: readonly RemoteRef[]): RemoteRef[] {
  const seen = new Set<string>();
  return refs
    .filter((r) => patterns.some((p) => refMatches(p, r.ref)))
    .sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0))
    .filter((r) => {
      if (seen.has(r.oid)) return false;
      seen.add(r.oid);
      return true;
    });
}

/** The fixed part of a pattern before its first `*`, up to a `/`: what to ask the server for. */
export function refPrefix(pattern: string): string {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern;
  return pattern.slice(0, pattern.lastIndexOf('/', star) + 1);
}
