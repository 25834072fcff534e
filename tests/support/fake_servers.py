"""Servers an attacker would run: they speak just enough of the PostgreSQL or MySQL protocol to ask a client for
its password in a form they can read, and record what they receive. Loopback only (127.0.0.2 by default: "another
server"), one thread per connection, every wait bounded.

- `FakePostgres` answers SSLRequest with 'N' and asks for a clear-text password (AuthenticationCleartextPassword).
- `FakeMySQL` asks with `mysql_clear_password` (an auth switch), or with caching_sha2_password's full
  authentication, offering an RSA public key of its own and decrypting what the client sends with it.

`connections` counts the TCP connections made; `passwords` holds every password recovered.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from dataclasses import dataclass, field

TIMEOUT = 5.0


@dataclass
class FakeServer:
    host: str = "127.0.0.2"
    port: int = 0
    connections: int = 0
    passwords: list[bytes] = field(default_factory=list)
    _sock: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> FakeServer:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen(8)
        sock.settimeout(0.2)
        self._sock, self.port = sock, sock.getsockname()[1]
        self._stop = threading.Event()
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            client.settimeout(TIMEOUT)
            worker = threading.Thread(target=self._serve, args=(client,), daemon=True)
            worker.start()
            self._threads.append(worker)

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError, struct.error), client:
            self.dialog(client)

    def dialog(self, client: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=TIMEOUT)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _exactly(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


class FakePostgres(FakeServer):
    """Asks every client for its password in clear text."""

    def dialog(self, client: socket.socket) -> None:
        while True:
            length, code = struct.unpack("!ii", _exactly(client, 8))
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: not here
                client.sendall(b"N")
                continue
            _exactly(client, length - 8)  # the startup message's parameters
            break
        client.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        kind = _exactly(client, 1)
        (length,) = struct.unpack("!i", _exactly(client, 4))
        body = _exactly(client, length - 4)
        if kind == b"p":
            self.passwords.append(body.rstrip(b"\0"))


def _packet(payload: bytes, sequence: int) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([sequence]) + payload


def _read_packet(client: socket.socket) -> tuple[bytes, int]:
    header = _exactly(client, 4)
    length = int.from_bytes(header[:3], "little")
    return _exactly(client, length), header[3]


class FakeMySQL(FakeServer):
    """A MySQL 8 greeting, then `mode`: "clear" switches the client to mysql_clear_password; "rsa" starts
    caching_sha2_password and demands full authentication, handing out its own RSA public key."""

    def __init__(self, mode: str, host: str = "127.0.0.2") -> None:
        super().__init__(host=host)
        self.mode = mode
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def _greeting(self, plugin: bytes, salt: bytes) -> bytes:
        capabilities = 0x1 | 0x8 | 0x200 | 0x8000 | 0x80000 | 0x200000  # no CLIENT_SSL: no TLS here
        return (b"\x0a" + b"8.0.36-fake\0" + struct.pack("<I", 7) + salt[:8] + b"\0"
                + struct.pack("<H", capabilities & 0xFFFF) + bytes([45]) + struct.pack("<H", 2)
                + struct.pack("<H", capabilities >> 16) + bytes([len(salt) + 1]) + b"\0" * 10 + salt[8:] + b"\0"
                + plugin + b"\0")

    def dialog(self, client: socket.socket) -> None:
        salt = os.urandom(20).replace(b"\0", b"\1")
        plugin = b"mysql_native_password" if self.mode == "clear" else b"caching_sha2_password"
        client.sendall(_packet(self._greeting(plugin, salt), 0))
        _, sequence = _read_packet(client)  # the handshake response
        if self.mode == "clear":
            client.sendall(_packet(b"\xfe" + b"mysql_clear_password\0", sequence + 1))
            answer, _ = _read_packet(client)
            self.passwords.append(answer.rstrip(b"\0"))
            return
        client.sendall(_packet(b"\x01\x04", sequence + 1))  # perform full authentication
        request, sequence = _read_packet(client)
        if request == b"\x02":  # the client asks for the server's public key: ours
            from cryptography.hazmat.primitives import serialization

            pem = self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
            client.sendall(_packet(b"\x01" + pem, sequence + 1))
            request, _ = _read_packet(client)
        self.passwords.append(self._decrypt(request, salt))

    def _decrypt(self, data: bytes, salt: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        plain = self.key.decrypt(data, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                                                     algorithm=hashes.SHA1(), label=None))
        return bytes(b ^ salt[i % len(salt)] for i, b in enumerate(plain)).rstrip(b"\0")
