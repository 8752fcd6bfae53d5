"""The failures a user can cause or fix, each reported by the CLI as one line and an exit code."""


class MnistUnavailable(RuntimeError):
    """MNIST cannot be had or read; the message says what was tried and what to do."""


class DeviceUnavailable(RuntimeError):
    """The device asked for is not on this machine."""


class ResultsUnwritable(OSError):
    """A History or summary cannot be saved where it should go; the message says where and what to do."""


class ReportError(ValueError):
    """A stored result cannot be read; the message names the file and the command that makes it."""


# exception -> the CLI's exit code: 1 for the machine's state (data, disk), 2 for what was asked
EXIT_CODES = {MnistUnavailable: 1, ResultsUnwritable: 1, ReportError: 1, DeviceUnavailable: 2}
