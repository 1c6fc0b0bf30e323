"""The `traintop` and `traintopd` console commands of the wheel: the C programs it carries in
traintop/bin/, run in place of this Python process (the same arguments, exit code and terminal)."""
import os
import sys


def _run(name):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", name)
    if not os.access(path, os.X_OK):
        sys.stderr.write("%s: %s is missing: this traintop package was installed without its programs "
                         "(install the wheel `make wheel` builds, or `make install`)\n" % (name, path))
        sys.exit(1)
    sys.stdout.flush()
    os.execv(path, [name] + sys.argv[1:])


def traintop():
    _run("traintop")


def traintopd():
    _run("traintopd")
