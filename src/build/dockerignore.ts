// .dockerignore, as the docker CLI and moby's patternmatcher read it: one pattern a line,
// comments (#) and blank lines skipped, `!` re-including, `**` any number of directories,
// a leading "/" meaning the context's root. The matching is @balena/dockerignore, a port of
// Docker's own matcher. Used by the CLI to pack a context and by berthd for API clients that
// send one unfiltered.
import dockerignore from '@balena/dockerignore';

export interface ContextFilter {
  /** Whether a path (relative to the context, "/"-separated) is left out. */
  excludes(path: string): boolean;
  /** Whether anything below the directory `path` could be re-included by a `!` pattern. */
  mayIncludeBelow(path: string): boolean;
}

export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // moby's ReadAll: blanks after "!" go too.
    patterns.push(line.startsWith('!') ? `!${line.slice(1).trim()}` : line);
  }
  return patterns;
}

export function contextFilter(patterns: readonly string[]): ContextFilter {
  const matcher = dockerignore.default().add([...patterns]);
  const exceptions = patterns.filter((pattern) => pattern.startsWith('!')).map((pattern) => pattern.slice(1).replace(/^\/+/, ''));
  return {
    excludes: (path) => patterns.length > 0 && matcher.ignores(path.replace(/^\/+/, '')),
    mayIncludeBelow: (path) => {
      const dir = path.replace(/^\/+/, '').replace(/\/+$/, '');
      return exceptions.some((exception) => exception.includes('*') || exception.startsWith(`${dir}/`));
    },
  };
}
