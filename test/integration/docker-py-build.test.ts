// docker-py's build and commit tests against berthd: test/integration/py/build_api.py drives
// build and commit the way docker-py's own tests do (tests/integration/api_build_test.py and the
// commit cases of api_container_test.py of docker/docker-py).
import { dockerPyCases } from './docker-py-cases.js';

dockerPyCases({ script: 'build_api.py', label: 'docker-py', minimumCases: 20, timeoutMs: 120_000 });
