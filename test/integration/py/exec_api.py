"""docker-py's exec API against berthd, driven as docker-py's own integration tests drive it
(tests/integration/api_exec_test.py in docker/docker-py): exec_create / exec_start with
stream, socket, detach, tty and demux; environment, workdir, user; exec_inspect; detach keys
(the default, exec_create's detach_keys, and the client config file's detachKeys); and a
container removed while an exec's socket is open.

Run with DOCKER_HOST=unix://... (the test daemon) and BUSYBOX naming an image with busybox;
arguments: --list, or the names of the cases to run (default: all). Prints unittest's verbose
output on stderr and "RESULT <case> <ok|FAIL|ERROR>" lines on stdout; exits non-zero on failure.
"""
import json
import os
import socket
import sys
import tempfile
import time
import unittest

import docker
from docker.utils.socket import next_frame_header, read_exactly
from cases import main

BUSYBOX = os.environ.get('BUSYBOX', 'busybox:latest')
# The slow loop between the two writes keeps stdout's and stderr's frames apart.
DEMUX_SCRIPT = 'sh -c "echo hello out ; for i in $(seq 1 50000); do echo $i>/dev/null; done ; echo hello err >&2"'


def ctrl(char):
    return bytes([ord(char) - ord('a') + 1])


def client(config_dir=None):
    """An API client on DOCKER_HOST; with config_dir, reading that folder's config.json."""
    saved = os.environ.get('DOCKER_CONFIG')
    if config_dir is not None:
        os.environ['DOCKER_CONFIG'] = config_dir
    try:
        return docker.APIClient(base_url=os.environ['DOCKER_HOST'], version='auto', timeout=60)
    finally:
        if config_dir is not None:
            if saved is None:
                del os.environ['DOCKER_CONFIG']
            else:
                os.environ['DOCKER_CONFIG'] = saved


def raw_socket(sock):
    return getattr(sock, '_sock', sock)


class ExecTest(unittest.TestCase):
    def setUp(self):
        self.client = client()
        self.containers = []

    def tearDown(self):
        for container in self.containers:
            try:
                self.client.remove_container(container, force=True)
            except docker.errors.NotFound:
                pass
        self.client.close()

    def running_cat(self):
        container = self.client.create_container(BUSYBOX, 'cat', detach=True, stdin_open=True, network_disabled=True)
        self.containers.append(container['Id'])
        self.client.start(container['Id'])
        return container['Id']

    def assert_detached_with_keys(self, sock, keys):
        """As docker-py's helper: after the keys, the exec's stream is closed."""
        sock = raw_socket(sock)
        for key in keys:
            sock.sendall(key)
            time.sleep(0.5)
        try:
            sock.sendall(b'make sure the socket is closed\n')
        except OSError:
            return
        try:
            sock.sendall(b'make sure the socket is closed\n')
        except OSError:
            return
        sock.settimeout(10)
        data = sock.recv(128)
        self.assertTrue(data == b'' or data.startswith(b'exec attach failed: error on attach stdin: read escape sequence'), data)

    def test_execute_command(self):
        container = self.running_cat()
        created = self.client.exec_create(container, ['echo', 'hello'])
        self.assertIn('Id', created)
        self.assertEqual(self.client.exec_start(created), b'hello\n')

    def test_exec_command_string(self):
        container = self.running_cat()
        self.assertEqual(self.client.exec_start(self.client.exec_create(container, 'echo hello world')), b'hello world\n')

    def test_exec_command_as_user(self):
        container = self.running_cat()
        self.assertEqual(self.client.exec_start(self.client.exec_create(container, 'whoami', user='nobody')), b'nobody\n')

    def test_exec_command_as_root(self):
        container = self.running_cat()
        self.assertEqual(self.client.exec_start(self.client.exec_create(container, 'whoami')), b'root\n')

    def test_exec_command_streaming(self):
        container = self.running_cat()
        created = self.client.exec_create(container, ['echo', 'hello\nworld'])
        output = b''.join(self.client.exec_start(created, stream=True))
        self.assertEqual(output, b'hello\nworld\n')

    def test_exec_command_demux(self):
        container = self.running_cat()
        start = lambda tty=False, **options: self.client.exec_start(self.client.exec_create(container, DEMUX_SCRIPT, tty=tty), **options)
        self.assertEqual(start(), b'hello out\nhello err\n')
        self.assertEqual(list(start(stream=True)), [b'hello out\n', b'hello err\n'])
        self.assertEqual(start(demux=True), (b'hello out\n', b'hello err\n'))
        self.assertEqual(list(start(demux=True, stream=True)), [(b'hello out\n', None), (None, b'hello err\n')])
        # A TTY merges both streams into one, with CRLF line ends.
        self.assertEqual(start(tty=True), b'hello out\r\nhello err\r\n')
        self.assertEqual(list(start(tty=True, stream=True)), [b'hello out\r\n', b'hello err\r\n'])
        self.assertEqual(start(tty=True, demux=True), (b'hello out\r\nhello err\r\n', None))
        self.assertEqual(list(start(tty=True, demux=True, stream=True)), [(b'hello out\r\n', None), (b'hello err\r\n', None)])

    def test_exec_start_socket(self):
        container = self.running_cat()
        line = 'yay, interactive exec!'
        created = self.client.exec_create(container, ['printf', line], tty=True)
        sock = self.client.exec_start(created, socket=True)
        self.addCleanup(sock.close)
        # exec_start sends Tty: false: moby frames the output by the start request's Tty, not
        # the exec's, so even a TTY exec's bytes come multiplexed here.
        stream, size = next_frame_header(sock)
        self.assertEqual(stream, 1)
        self.assertEqual(size, len(line))
        self.assertEqual(read_exactly(sock, size).decode(), line)

    def test_exec_start_detached(self):
        container = self.running_cat()
        created = self.client.exec_create(container, ['printf', 'asdqwe'])
        self.assertEqual(self.client.exec_start(created, detach=True), '')

    def test_exec_inspect(self):
        container = self.running_cat()
        created = self.client.exec_create(container, ['mkdir', '/does/not/exist'])
        self.client.exec_start(created)
        info = self.client.exec_inspect(created)
        self.assertIn('ExitCode', info)
        self.assertNotEqual(info['ExitCode'], 0)
        self.assertFalse(info['Running'])
        self.assertEqual(info['ContainerID'], container)

    def test_exec_command_with_env(self):
        container = self.running_cat()
        self.assertIn(b'X=Y\n', self.client.exec_start(self.client.exec_create(container, 'env', environment=['X=Y'])))
        self.assertIn(b'A=b c\n', self.client.exec_start(self.client.exec_create(container, 'env', environment={'A': 'b c'})))

    def test_exec_command_with_workdir(self):
        container = self.running_cat()
        self.assertEqual(self.client.exec_start(self.client.exec_create(container, 'pwd', workdir='/var/www')), b'/var/www\n')

    def test_detach_with_default(self):
        container = self.running_cat()
        created = self.client.exec_create(container, 'cat', stdin=True, tty=True, stdout=True)
        sock = self.client.exec_start(created, tty=True, socket=True)
        self.addCleanup(sock.close)
        self.assert_detached_with_keys(sock, [ctrl('p'), ctrl('q')])

    # docker-py sends the field as "detachKeys" (lower-case d): berthd matches field names
    # case-insensitively, as Go's encoding/json does.
    def test_detach_with_arg(self):
        container = self.running_cat()
        created = self.client.exec_create(container, 'cat', stdin=True, tty=True, stdout=True, detach_keys='ctrl-x')
        sock = self.client.exec_start(created, tty=True, socket=True)
        self.addCleanup(sock.close)
        self.assert_detached_with_keys(sock, [ctrl('x')])

    # The same "detachKeys" field, here taken from the client's config file.
    def test_detach_with_config_file(self):
        config_dir = tempfile.mkdtemp(prefix='berth-docker-py-config-')
        self.addCleanup(lambda: (os.remove(os.path.join(config_dir, 'config.json')), os.rmdir(config_dir)))
        with open(os.path.join(config_dir, 'config.json'), 'w') as config:
            json.dump({'detachKeys': 'ctrl-p'}, config)
        configured = client(config_dir)
        self.addCleanup(configured.close)
        self.assertEqual(configured._general_configs.get('detachKeys'), 'ctrl-p')
        container = self.running_cat()
        created = configured.exec_create(container, 'cat', stdin=True, tty=True, stdout=True)
        sock = configured.exec_start(created, tty=True, socket=True)
        self.addCleanup(sock.close)
        self.assert_detached_with_keys(sock, [ctrl('p')])

    # A client's socket reset while berthd relays an exec ends that session only, never the daemon.
    def test_container_removed_while_exec_socket_open(self):
        container = self.running_cat()
        created = self.client.exec_create(container, 'cat', stdin=True, tty=False, stdout=True, stderr=True)
        sock = self.client.exec_start(created, socket=True)
        self.addCleanup(sock.close)
        raw = raw_socket(sock)
        raw.sendall(b'ping\n')
        stream, size = next_frame_header(sock)
        self.assertEqual((stream, read_exactly(sock, size)), (1, b'ping\n'))

        self.client.remove_container(container, force=True)
        self.containers.remove(container)
        # The exec's stream ends: EOF (or a reset) within a few seconds, never a hang.
        raw.settimeout(15)
        try:
            rest = raw.recv(4096)
            while rest:
                rest = raw.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            pass
        # A write into the dead session, then a reset from this side: berthd must shrug both off.
        try:
            raw.sendall(b'after removal\n')
        except OSError:
            pass
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        raw.close()
        time.sleep(0.5)
        self.assertEqual(self.client.ping(), True)
        with self.assertRaises(docker.errors.NotFound):
            self.client.inspect_container(container)
        # The exec of the removed container is gone with it.
        with self.assertRaises(docker.errors.NotFound):
            self.client.exec_inspect(created)


if __name__ == '__main__':
    main(ExecTest)
