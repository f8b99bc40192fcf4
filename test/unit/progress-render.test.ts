// The progress renderer against the docker CLI's own output: each case is a message stream
// recorded from dockerd 20.10 (pull, push, pull -a, an error), and the exact bytes docker CLI
// 28 wrote for it under a pseudo-terminal (`script`, `stty -onlcr cols N`) or into a pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonMessage } from '../../src/client/engine-client.js';
import { JsonMessageError, ProgressRenderer } from '../../src/cli/progress.js';
import { formatProgress } from '../../src/wire/progress.js';
import { displayProgressStream, StatusError } from '../../src/cli/output.js';

interface RecordedCase {
  title: string;
  terminal: boolean;
  width: number;
  stream: string[];
  output: string;
}

const ERROR_MESSAGE = 'filesystem layer verification failed for digest sha256:90adb14a8c1b';

const cases: RecordedCase[] = [
  {
    title: "pull on a 120-column terminal: bars, lines rewritten in place",
    terminal: true, width: 120,
    stream: [
      "{\"status\":\"Pulling from me/multi\",\"id\":\"v1\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"7bcc719b4884\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"bb3bf7f874e6\"}",
      "{\"status\":\"Waiting\",\"progressDetail\":{},\"id\":\"bb3bf7f874e6\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":32768,\"total\":3146835},\"progress\":\"[\\u003e                                                  ]  32.77kB/3.147MB\",\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":107,\"total\":107},\"progress\":\"[==================================================\\u003e]     107B/107B\",\"id\":\"bb3bf7f874e6\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1069219,\"total\":1069219},\"progress\":\"[==================================================\\u003e]  1.069MB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":32768,\"total\":1069219},\"progress\":\"[=\\u003e                                                 ]  32.77kB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":20690944,\"total\":20978067},\"progress\":\"[=================================================\\u003e ]  20.69MB/20.98MB\",\"id\":\"7bcc719b4884\"}",
      "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"7bcc719b4884\"}",
      "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":32768,\"total\":3146835},\"progress\":\"[\\u003e                                                  ]  32.77kB/3.147MB\",\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\"}",
      "{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5099/me/multi:v1\"}",
    ],
    output: "v1: Pulling from me/multi\n" +
      "\n" +
      "\u001b[1A\u001b[2K\r90adb14a8c1b: Pulling fs layer \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\rf84b07874b20: Pulling fs layer \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\r7bcc719b4884: Pulling fs layer \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\rbb3bf7f874e6: Pulling fs layer \r\u001b[1B\u001b[1A\u001b[2K\rbb3bf7f874e6: Waiting \r\u001b[1B\u001b[3A\u001b[2K\rf84b07874b20: Downloading [>                                                  ]  32.77kB/3.147MB\r\u001b[3B\u001b[3A\u001b[2K\rf84b07874b20: Verifying Checksum \r\u001b[3B\u001b[3A\u001b[2K\rf84b07874b20: Download complete \r\u001b[3B\u001b[1A\u001b[2K\rbb3bf7f874e6: Downloading [==================================================>]     107B/107B\r\u001b[1B\u001b[4A\u001b[2K\r90adb14a8c1b: Downloading [==================================================>]  1.069MB/1.069MB\r\u001b[4B\u001b[4A\u001b[2K\r90adb14a8c1b: Verifying Checksum \r\u001b[4B\u001b[4A\u001b[2K\r90adb14a8c1b: Extracting [=>                                                 ]  32.77kB/1.069MB\r\u001b[4B\u001b[2A\u001b[2K\r7bcc719b4884: Downloading [=================================================> ]  20.69MB/20.98MB\r\u001b[2B\u001b[2A\u001b[2K\r7bcc719b4884: Verifying Checksum \r\u001b[2B\u001b[4A\u001b[2K\r90adb14a8c1b: Pull complete \r\u001b[4B\u001b[3A\u001b[2K\rf84b07874b20: Extracting [>                                                  ]  32.77kB/3.147MB\r\u001b[3BDigest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\n" +
      "Status: Downloaded newer image for 127.0.0.1:5099/me/multi:v1\n" +
      "",
  },
  {
    title: "pull on an 80-column terminal: no bars, counts only",
    terminal: true, width: 80,
    stream: [
      "{\"status\":\"Pulling from me/multi\",\"id\":\"v1\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"7bcc719b4884\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"bb3bf7f874e6\"}",
      "{\"status\":\"Waiting\",\"progressDetail\":{},\"id\":\"bb3bf7f874e6\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":32768,\"total\":3146835},\"progress\":\"[\\u003e                                                  ]  32.77kB/3.147MB\",\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":107,\"total\":107},\"progress\":\"[==================================================\\u003e]     107B/107B\",\"id\":\"bb3bf7f874e6\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1069219,\"total\":1069219},\"progress\":\"[==================================================\\u003e]  1.069MB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":32768,\"total\":1069219},\"progress\":\"[=\\u003e                                                 ]  32.77kB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":20690944,\"total\":20978067},\"progress\":\"[=================================================\\u003e ]  20.69MB/20.98MB\",\"id\":\"7bcc719b4884\"}",
      "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"7bcc719b4884\"}",
      "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":32768,\"total\":3146835},\"progress\":\"[\\u003e                                                  ]  32.77kB/3.147MB\",\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\"}",
      "{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5099/me/multi:v1\"}",
    ],
    output: "v1: Pulling from me/multi\n" +
      "\n" +
      "\u001b[1A\u001b[2K\r90adb14a8c1b: Pulling fs layer \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\rf84b07874b20: Pulling fs layer \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\r7bcc719b4884: Pulling fs layer \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\rbb3bf7f874e6: Pulling fs layer \r\u001b[1B\u001b[1A\u001b[2K\rbb3bf7f874e6: Waiting \r\u001b[1B\u001b[3A\u001b[2K\rf84b07874b20: Downloading  32.77kB/3.147MB\r\u001b[3B\u001b[3A\u001b[2K\rf84b07874b20: Verifying Checksum \r\u001b[3B\u001b[3A\u001b[2K\rf84b07874b20: Download complete \r\u001b[3B\u001b[1A\u001b[2K\rbb3bf7f874e6: Downloading     107B/107B\r\u001b[1B\u001b[4A\u001b[2K\r90adb14a8c1b: Downloading  1.069MB/1.069MB\r\u001b[4B\u001b[4A\u001b[2K\r90adb14a8c1b: Verifying Checksum \r\u001b[4B\u001b[4A\u001b[2K\r90adb14a8c1b: Extracting  32.77kB/1.069MB\r\u001b[4B\u001b[2A\u001b[2K\r7bcc719b4884: Downloading  20.69MB/20.98MB\r\u001b[2B\u001b[2A\u001b[2K\r7bcc719b4884: Verifying Checksum \r\u001b[2B\u001b[4A\u001b[2K\r90adb14a8c1b: Pull complete \r\u001b[4B\u001b[3A\u001b[2K\rf84b07874b20: Extracting  32.77kB/3.147MB\r\u001b[3BDigest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\n" +
      "Status: Downloaded newer image for 127.0.0.1:5099/me/multi:v1\n" +
      "",
  },
  {
    title: "pull without a terminal: progress dropped, one line per message",
    terminal: false, width: 0,
    stream: [
      "{\"status\":\"Pulling from me/multi\",\"id\":\"v1\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"7bcc719b4884\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"bb3bf7f874e6\"}",
      "{\"status\":\"Waiting\",\"progressDetail\":{},\"id\":\"bb3bf7f874e6\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":32768,\"total\":3146835},\"progress\":\"[\\u003e                                                  ]  32.77kB/3.147MB\",\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":107,\"total\":107},\"progress\":\"[==================================================\\u003e]     107B/107B\",\"id\":\"bb3bf7f874e6\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1069219,\"total\":1069219},\"progress\":\"[==================================================\\u003e]  1.069MB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":32768,\"total\":1069219},\"progress\":\"[=\\u003e                                                 ]  32.77kB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":20690944,\"total\":20978067},\"progress\":\"[=================================================\\u003e ]  20.69MB/20.98MB\",\"id\":\"7bcc719b4884\"}",
      "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"7bcc719b4884\"}",
      "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":32768,\"total\":3146835},\"progress\":\"[\\u003e                                                  ]  32.77kB/3.147MB\",\"id\":\"f84b07874b20\"}",
      "{\"status\":\"Digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\"}",
      "{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5099/me/multi:v1\"}",
    ],
    output: "v1: Pulling from me/multi\n" +
      "90adb14a8c1b: Pulling fs layer\n" +
      "f84b07874b20: Pulling fs layer\n" +
      "7bcc719b4884: Pulling fs layer\n" +
      "bb3bf7f874e6: Pulling fs layer\n" +
      "bb3bf7f874e6: Waiting\n" +
      "f84b07874b20: Verifying Checksum\n" +
      "f84b07874b20: Download complete\n" +
      "90adb14a8c1b: Verifying Checksum\n" +
      "7bcc719b4884: Verifying Checksum\n" +
      "90adb14a8c1b: Pull complete\n" +
      "Digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\n" +
      "Status: Downloaded newer image for 127.0.0.1:5099/me/multi:v1\n" +
      "",
  },
  {
    title: "push on a terminal; the aux message is not shown",
    terminal: true, width: 120,
    stream: [
      "{\"status\":\"The push refers to repository [127.0.0.1:5099/me/multi]\"}",
      "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"cc4d3b298d85\"}",
      "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"84a353f443fd\"}",
      "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"2a8881552cb0\"}",
      "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"2999f04e2f46\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":512,\"total\":3},\"progress\":\"[==================================================\\u003e]     512B\",\"id\":\"cc4d3b298d85\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":33280,\"total\":3145728},\"progress\":\"[\\u003e                                                  ]  33.28kB/3.146MB\",\"id\":\"2a8881552cb0\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":43008,\"total\":1985023},\"progress\":\"[=\\u003e                                                 ]  43.01kB/1.985MB\",\"id\":\"2999f04e2f46\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":2048,\"total\":3},\"progress\":\"[==================================================\\u003e]  2.048kB\",\"id\":\"cc4d3b298d85\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":3147264,\"total\":3145728},\"progress\":\"[==================================================\\u003e]  3.147MB\",\"id\":\"2a8881552cb0\"}",
      "{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"cc4d3b298d85\"}",
      "{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"2a8881552cb0\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":20973056,\"total\":20971520},\"progress\":\"[==================================================\\u003e]  20.97MB\",\"id\":\"84a353f443fd\"}",
      "{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"84a353f443fd\"}",
      "{\"status\":\"v1: digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1 size: 1158\"}",
      "{\"progressDetail\":{},\"aux\":{\"Tag\":\"v1\",\"Digest\":\"sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\",\"Size\":1158}}",
    ],
    output: "The push refers to repository [127.0.0.1:5099/me/multi]\n" +
      "\n" +
      "\u001b[1A\u001b[2K\rcc4d3b298d85: Preparing \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\r84a353f443fd: Preparing \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\r2a8881552cb0: Preparing \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\r2999f04e2f46: Preparing \r\u001b[1B\u001b[4A\u001b[2K\rcc4d3b298d85: Pushing [==================================================>]     512B\r\u001b[4B\u001b[2A\u001b[2K\r2a8881552cb0: Pushing [>                                                  ]  33.28kB/3.146MB\r\u001b[2B\u001b[1A\u001b[2K\r2999f04e2f46: Pushing [=>                                                 ]  43.01kB/1.985MB\r\u001b[1B\u001b[4A\u001b[2K\rcc4d3b298d85: Pushing [==================================================>]  2.048kB\r\u001b[4B\u001b[2A\u001b[2K\r2a8881552cb0: Pushing [==================================================>]  3.147MB\r\u001b[2B\u001b[4A\u001b[2K\rcc4d3b298d85: Pushed \r\u001b[4B\u001b[2A\u001b[2K\r2a8881552cb0: Pushed \r\u001b[2B\u001b[3A\u001b[2K\r84a353f443fd: Pushing [==================================================>]  20.97MB\r\u001b[3B\u001b[3A\u001b[2K\r84a353f443fd: Pushed \r\u001b[3Bv1: digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1 size: 1158\n" +
      "",
  },
  {
    title: "push without a terminal",
    terminal: false, width: 0,
    stream: [
      "{\"status\":\"The push refers to repository [127.0.0.1:5099/me/multi]\"}",
      "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"cc4d3b298d85\"}",
      "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"84a353f443fd\"}",
      "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"2a8881552cb0\"}",
      "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"2999f04e2f46\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":512,\"total\":3},\"progress\":\"[==================================================\\u003e]     512B\",\"id\":\"cc4d3b298d85\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":33280,\"total\":3145728},\"progress\":\"[\\u003e                                                  ]  33.28kB/3.146MB\",\"id\":\"2a8881552cb0\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":43008,\"total\":1985023},\"progress\":\"[=\\u003e                                                 ]  43.01kB/1.985MB\",\"id\":\"2999f04e2f46\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":2048,\"total\":3},\"progress\":\"[==================================================\\u003e]  2.048kB\",\"id\":\"cc4d3b298d85\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":3147264,\"total\":3145728},\"progress\":\"[==================================================\\u003e]  3.147MB\",\"id\":\"2a8881552cb0\"}",
      "{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"cc4d3b298d85\"}",
      "{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"2a8881552cb0\"}",
      "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":20973056,\"total\":20971520},\"progress\":\"[==================================================\\u003e]  20.97MB\",\"id\":\"84a353f443fd\"}",
      "{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"84a353f443fd\"}",
      "{\"status\":\"v1: digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1 size: 1158\"}",
      "{\"progressDetail\":{},\"aux\":{\"Tag\":\"v1\",\"Digest\":\"sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\",\"Size\":1158}}",
    ],
    output: "The push refers to repository [127.0.0.1:5099/me/multi]\n" +
      "cc4d3b298d85: Preparing\n" +
      "84a353f443fd: Preparing\n" +
      "2a8881552cb0: Preparing\n" +
      "2999f04e2f46: Preparing\n" +
      "cc4d3b298d85: Pushed\n" +
      "2a8881552cb0: Pushed\n" +
      "84a353f443fd: Pushed\n" +
      "v1: digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1 size: 1158\n" +
      "",
  },
  {
    title: "pull -a: a line without id starts a new block; units, current > total, no total",
    terminal: true, width: 120,
    stream: [
      "{\"status\":\"Pulling from me/multi\",\"id\":\"v1\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1069219,\"total\":1069219},\"progress\":\"[==================================================\\u003e]  1.069MB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\"}",
      "{\"status\":\"Pulling from me/multi\",\"id\":\"v0\"}",
      "{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Retrying in 2 seconds\",\"progressDetail\":{},\"id\":\"aaaaaaaaaaaa\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":512},\"id\":\"aaaaaaaaaaaa\"}",
      "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":2000000,\"total\":1000000},\"id\":\"aaaaaaaaaaaa\"}",
      "{\"status\":\"Loading\",\"progressDetail\":{\"current\":3,\"total\":7,\"units\":\"layers\"},\"id\":\"aaaaaaaaaaaa\"}",
      "{\"status\":\"Digest: sha256:45c877ecb03a8d1a2bd496605e9f09056eb7bb2b24d50d651eebaae08326d950\"}",
      "{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5099/me/multi\"}",
    ],
    output: "v1: Pulling from me/multi\n" +
      "\n" +
      "\u001b[1A\u001b[2K\r90adb14a8c1b: Pulling fs layer \r\u001b[1B\u001b[1A\u001b[2K\r90adb14a8c1b: Downloading [==================================================>]  1.069MB/1.069MB\r\u001b[1B\u001b[1A\u001b[2K\r90adb14a8c1b: Pull complete \r\u001b[1BDigest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\n" +
      "v0: Pulling from me/multi\n" +
      "\n" +
      "\u001b[1A\u001b[2K\r90adb14a8c1b: Already exists \r\u001b[1B\n" +
      "\u001b[1A\u001b[2K\raaaaaaaaaaaa: Retrying in 2 seconds \r\u001b[1B\u001b[1A\u001b[2K\raaaaaaaaaaaa: Downloading     512B\r\u001b[1B\u001b[1A\u001b[2K\raaaaaaaaaaaa: Extracting [==================================================>]      2MB\r\u001b[1B\u001b[1A\u001b[2K\raaaaaaaaaaaa: Loading [=====================>                             ] 3/7 layers\r\u001b[1BDigest: sha256:45c877ecb03a8d1a2bd496605e9f09056eb7bb2b24d50d651eebaae08326d950\n" +
      "Status: Downloaded newer image for 127.0.0.1:5099/me/multi\n" +
      "",
  },
  {
    title: "pull -a without a terminal",
    terminal: false, width: 0,
    stream: [
      "{\"status\":\"Pulling from me/multi\",\"id\":\"v1\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1069219,\"total\":1069219},\"progress\":\"[==================================================\\u003e]  1.069MB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\"}",
      "{\"status\":\"Pulling from me/multi\",\"id\":\"v0\"}",
      "{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Retrying in 2 seconds\",\"progressDetail\":{},\"id\":\"aaaaaaaaaaaa\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":512},\"id\":\"aaaaaaaaaaaa\"}",
      "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":2000000,\"total\":1000000},\"id\":\"aaaaaaaaaaaa\"}",
      "{\"status\":\"Loading\",\"progressDetail\":{\"current\":3,\"total\":7,\"units\":\"layers\"},\"id\":\"aaaaaaaaaaaa\"}",
      "{\"status\":\"Digest: sha256:45c877ecb03a8d1a2bd496605e9f09056eb7bb2b24d50d651eebaae08326d950\"}",
      "{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5099/me/multi\"}",
    ],
    output: "v1: Pulling from me/multi\n" +
      "90adb14a8c1b: Pulling fs layer\n" +
      "90adb14a8c1b: Pull complete\n" +
      "Digest: sha256:72e36fac80cf3481611bafadecbdb05671784bb48ada64a778df612bc49969a1\n" +
      "v0: Pulling from me/multi\n" +
      "90adb14a8c1b: Already exists\n" +
      "aaaaaaaaaaaa: Retrying in 2 seconds\n" +
      "Digest: sha256:45c877ecb03a8d1a2bd496605e9f09056eb7bb2b24d50d651eebaae08326d950\n" +
      "Status: Downloaded newer image for 127.0.0.1:5099/me/multi\n" +
      "",
  },
  {
    title: "an error ends the display (terminal)",
    terminal: true, width: 120,
    stream: [
      "{\"status\":\"Pulling from me/multi\",\"id\":\"idx\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":36445,\"total\":1069219},\"progress\":\"[=\\u003e                                                 ]  36.45kB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"errorDetail\":{\"message\":\"filesystem layer verification failed for digest sha256:90adb14a8c1b\"},\"error\":\"filesystem layer verification failed for digest sha256:90adb14a8c1b\"}",
    ],
    output: "idx: Pulling from me/multi\n" +
      "\n" +
      "\u001b[1A\u001b[2K\r90adb14a8c1b: Pulling fs layer \r\u001b[1B\u001b[1A\u001b[2K\r90adb14a8c1b: Downloading [=>                                                 ]  36.45kB/1.069MB\r\u001b[1B",
  },
  {
    title: "an error ends the display (no terminal)",
    terminal: false, width: 0,
    stream: [
      "{\"status\":\"Pulling from me/multi\",\"id\":\"idx\"}",
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"90adb14a8c1b\"}",
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":36445,\"total\":1069219},\"progress\":\"[=\\u003e                                                 ]  36.45kB/1.069MB\",\"id\":\"90adb14a8c1b\"}",
      "{\"errorDetail\":{\"message\":\"filesystem layer verification failed for digest sha256:90adb14a8c1b\"},\"error\":\"filesystem layer verification failed for digest sha256:90adb14a8c1b\"}",
    ],
    output: "idx: Pulling from me/multi\n" +
      "90adb14a8c1b: Pulling fs layer\n" +
      "",
  },
];

function render(recorded: RecordedCase): { output: string; error: unknown } {
  let output = '';
  const renderer = new ProgressRenderer((text) => { output += text; }, { terminal: recorded.terminal, width: () => recorded.width });
  try {
    for (const line of recorded.stream) renderer.render(JSON.parse(line) as JsonMessage);
  } catch (error) {
    return { output, error };
  }
  return { output, error: undefined };
}

for (const recorded of cases) {
  test(`renders like docker: ${recorded.title}`, () => {
    const { output, error } = render(recorded);
    assert.equal(output, recorded.output);
    if (recorded.stream.some((line) => line.includes('errorDetail'))) {
      assert.ok(error instanceof JsonMessageError);
      assert.equal(error.message, ERROR_MESSAGE);
    } else {
      assert.equal(error, undefined);
    }
  });
}

test('formatProgress: JSONProgress.String() edge cases', () => {
  assert.equal(formatProgress({}), '');
  assert.equal(formatProgress({ current: 0, total: 0 }), '');
  assert.equal(formatProgress({ current: 1500 }), '   1.5kB');
  assert.equal(formatProgress({ current: 5, units: 'layers' }), '5 layers');
  assert.equal(formatProgress({ current: 0, total: 2_000_000 }, 200), `[>${' '.repeat(50)}]       0B/2MB`);
  assert.equal(formatProgress({ current: 1_000_000, total: 2_000_000 }, 111), `[${'='.repeat(25)}>${' '.repeat(25)}]      1MB/2MB`);
  assert.equal(formatProgress({ current: 1_000_000, total: 2_000_000 }, 110), '     1MB/2MB');
  assert.equal(formatProgress({ current: 3, total: 9, hidecounts: true }, 80), '');
  // Half done after 10 s: 10 s left.
  assert.equal(formatProgress({ current: 1_000_000, total: 2_000_000, start: 1000 }, 80, 1010_000), '     1MB/2MB 10s');
  assert.equal(formatProgress({ current: 1, total: 1000, start: 1000 }, 80, 1000_000 + 150_000), '      1B/1kB 41h37m30s');
});

test('aux messages go to the callback, not the output', () => {
  let output = '';
  const seen: JsonMessage[] = [];
  const renderer = new ProgressRenderer((text) => { output += text; }, { terminal: false, onAux: (message) => seen.push(message) });
  renderer.render({ progressDetail: {}, aux: { Tag: 'v1', Digest: 'sha256:abc', Size: 3 } });
  renderer.render({ status: 'done' });
  assert.equal(output, 'done\n');
  assert.equal(seen.length, 1);
});

test('displayProgressStream: plain without an output, an error becomes the exit status', async () => {
  async function* messages(): AsyncGenerator<{ value: JsonMessage }> {
    yield { value: { status: 'Downloading', progressDetail: { current: 5, total: 10 }, id: 'abc' } };
    yield { value: { status: 'Pull complete', progressDetail: {}, id: 'abc' } };
    yield { value: { errorDetail: { message: 'boom' }, error: 'boom' } };
  }
  let output = '';
  await assert.rejects(displayProgressStream(messages(), (text) => { output += text; }, 1), (error: unknown) => {
    assert.ok(error instanceof StatusError);
    assert.equal(error.exitCode, 1);
    assert.equal(error.message, 'boom');
    return true;
  });
  assert.equal(output, 'abc: Pull complete\n');
});
