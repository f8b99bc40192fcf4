// docker-py's exec tests against berthd: test/integration/py/exec_api.py drives the exec API the
// way docker-py's own exec tests do (tests/integration/api_exec_test.py of docker/docker-py).
import { dockerPyCases } from './docker-py-cases.js';

dockerPyCases({ script: 'exec_api.py', label: 'docker-py', minimumCases: 15, timeoutMs: 90_000 });
