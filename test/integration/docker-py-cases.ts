// docker-py (Debian's python3-docker, run with /usr/bin/python3) against berthd, shared by the
// docker-py*.test.ts files: a script under test/integration/py/ lists its cases (`--list`) and
// runs one per python process, printing `RESULT <case> ok|skip`. Each case is reported as a
// test of its own; a case after which berthd no longer answers fails for that, and the next case
// gets a fresh berthd.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, runCommand, useDaemon, type TestDaemon } from './harness.js';

const PYTHON = '/usr/bin/python3';

export interface DockerPyCases {
  /** the script's file name under test/integration/py/ */
  script: string;
  /** the tests' name prefix ("docker-py", "docker-py networks") */
  label: string;
  /** fewer cases listed means the script or docker-py is broken */
  minimumCases: number;
  timeoutMs: number;
  /** cases that fail for a known daemon gap, with the reason: run and reported as todo */
  knownGaps?: Record<string, string>;
  /** more environment for the script */
  env?: (daemon: TestDaemon) => Record<string, string>;
}

/** The traceback unittest printed (on stderr) for a case. */
function traceback(stderr: string, name: string): string {
  const start = Math.max(stderr.indexOf(`FAIL: ${name} `), stderr.indexOf(`ERROR: ${name} `));
  return start < 0 ? stderr.slice(-3000) : stderr.slice(start);
}

export function dockerPyCases(options: DockerPyCases): void {
  const daemon = useDaemon();
  const script = join(REPO_ROOT, 'test', 'integration', 'py', options.script);
  const answers = async (): Promise<boolean> => {
    try {
      return (await daemon.api('GET', '/_ping')).status === 200;
    } catch {
      return false;
    }
  };
  const cases = existsSync(PYTHON)
    ? execFileSync(PYTHON, [script, '--list'], { encoding: 'utf8' }).split('\n').filter((name) => name.startsWith('test_'))
    : [];

  test(`${options.label}: docker-py is installed and the script lists its cases`, () => {
    assert.ok(existsSync(PYTHON), `${PYTHON} is missing (scripts/setup.sh --test)`);
    assert.ok(cases.length >= options.minimumCases, cases.join(', '));
  });

  for (const name of cases) {
    const gap = options.knownGaps?.[name];
    test(`${options.label}: ${name}`, gap ? { todo: gap } : {}, async (t) => {
      if (!(await answers())) await daemon.start();
      const result = await runCommand(PYTHON, [script, name], {
        timeoutMs: options.timeoutMs,
        env: {
          DOCKER_HOST: daemon.host, DOCKER_CONFIG: daemon.dockerConfig, BUSYBOX: 'busybox:latest',
          PYTHONDONTWRITEBYTECODE: '1', PYTHONWARNINGS: 'ignore', ...options.env?.(daemon),
        },
      });
      assert.ok(await answers(), `berthd stopped answering during ${name}:\n${daemon.log.slice(-3000)}`);
      if (new RegExp(`^RESULT ${name} skip$`, 'm').test(result.stdout)) {
        t.skip(/skipped '([^']*)'/.exec(result.stderr)?.[1] ?? 'skipped by the script');
        return;
      }
      assert.match(result.stdout, new RegExp(`^RESULT ${name} ok$`, 'm'), `${name} (exit ${result.code}):\n${traceback(result.stderr, name)}`);
    });
  }
}
