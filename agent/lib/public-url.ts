/** A repository URL safe to print: any user:password part is left out. */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** True when an http(s) URL carries credentials (they belong in --credentials-file). */
export function urlHasCredentials(url: string): boolean {
  return publicUrl(url) !== url;
}
