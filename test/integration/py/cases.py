"""How the docker-py scripts here run (test/integration/docker-py-cases.ts drives them).

`--list` prints the cases in the order they are written; names as arguments run those cases
alone (the node test runs each in a process of its own); none runs them all. Besides unittest's
verbose output, each case ends with a line on stdout: "RESULT <name> <ok|FAIL|ERROR|skip>".
"""
import sys
import unittest


class ReportingResult(unittest.TextTestResult):
    def report(self, test, outcome):
        print(f'RESULT {test._testMethodName} {outcome}', flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.report(test, 'ok')

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.report(test, 'FAIL')

    def addError(self, test, err):
        super().addError(test, err)
        self.report(test, 'ERROR')

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.report(test, 'skip')


def main(*case_classes):
    by_name = {name: case for case in case_classes for name in vars(case) if name.startswith('test_')}
    if sys.argv[1:] == ['--list']:
        print('\n'.join(by_name))
        sys.exit(0)
    names = sys.argv[1:] or list(by_name)
    suite = unittest.TestSuite(by_name[name](name) for name in names)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=ReportingResult)
    sys.exit(0 if runner.run(suite).wasSuccessful() else 1)
