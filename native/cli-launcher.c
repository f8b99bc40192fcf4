// dist/berth: the berth CLI's launcher. Runs `node DIR/berth.js ARG...`, DIR being the directory
// of this program's own file (/proc/self/exe, so a symlink on PATH, as npm link makes, works),
// and node found on PATH as `#!/usr/bin/env node` finds it.
//
// What it changes: NODE_EXTRA_CA_CERTS is moved to BERTH_EXTRA_CA_CERTS. Node parses the file
// that variable names at every start, before running a line of the script, whether or not the
// process ever makes a TLS connection; with the system's bundle (220 KB) that is about half of
// `node -e 0`'s time (docs/performance.md, CLI start). The CLI talks to berthd over a unix
// socket, or over TLS with a CA of its own (ca.pem); only a TLS connection verified against the
// system's roots reads the file, and the CLI then adds its certificates itself
// (src/cli/contexts.ts). The CLI puts the variable back into its environment at once, so the
// processes it starts (credential helpers, tar) see what the user set.
//
// The launcher replaces itself with node (no fork): node's pid, exit status, signals and
// standard streams are the CLI's own.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENTRY "/berth.js"

int main(int argc, char **argv) {
  char entry[PATH_MAX + sizeof ENTRY];
  ssize_t length = readlink("/proc/self/exe", entry, PATH_MAX);
  if (length <= 0 || length >= PATH_MAX) {
    fprintf(stderr, "berth: cannot find its own location (/proc/self/exe): %s\n", strerror(errno));
    return 127;
  }
  entry[length] = '\0';
  char *slash = strrchr(entry, '/');
  if (slash == NULL) return 127;
  strcpy(slash, ENTRY);

  const char *extra = getenv("NODE_EXTRA_CA_CERTS");
  if (extra != NULL) {
    if (setenv("BERTH_EXTRA_CA_CERTS", extra, 1) != 0 || unsetenv("NODE_EXTRA_CA_CERTS") != 0) {
      fprintf(stderr, "berth: moving NODE_EXTRA_CA_CERTS: %s\n", strerror(errno));
      return 127;
    }
  } else {
    // Only the launcher sets it: a stray one must not add certificates the user never asked for.
    unsetenv("BERTH_EXTRA_CA_CERTS");
  }

  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (args == NULL) return 127;
  args[0] = "node";
  args[1] = entry;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  execvp("node", args);
  // The same words and status as /usr/bin/env when node is not on PATH.
  fprintf(stderr, "berth: 'node': %s\n", strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
