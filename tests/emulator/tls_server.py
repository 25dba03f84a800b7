"""HTTPS for the SQL API emulator: a threading HTTP server that, given an ssl.SSLContext, does
each connection's TLS handshake in that connection's thread and counts it (tls_handshakes,
tls_failures), and reads the ALPN list of each ClientHello (alpn_h2_offered) without consuming it.
http.server speaks HTTP/1.1 only, so ALPN always settles on http/1.1."""
import socket
import ssl
import struct
import time
from http.server import ThreadingHTTPServer


def client_hello_alpn(sock):
    """The ALPN protocols a ClientHello offers, read with MSG_PEEK so the handshake still sees it;
    [] when the record is not (yet) a whole ClientHello."""
    try:
        head = sock.recv(5, socket.MSG_PEEK)
        if len(head) < 5 or head[0] != 22:  # handshake record
            return []
        want = 5 + struct.unpack("!H", head[3:5])[0]
        deadline = time.monotonic() + 2
        rec = sock.recv(want, socket.MSG_PEEK)
        while len(rec) < want and time.monotonic() < deadline:
            time.sleep(0.001)
            rec = sock.recv(want, socket.MSG_PEEK)
        p = rec[5:]
        if len(p) < 4 or p[0] != 1:  # ClientHello
            return []
        i = 4 + 2 + 32  # type+length, version, random
        i += 1 + p[i]  # session id
        i += 2 + struct.unpack("!H", p[i:i + 2])[0]  # cipher suites
        i += 1 + p[i]  # compression methods
        end = i + 2 + struct.unpack("!H", p[i:i + 2])[0]
        i += 2
        while i + 4 <= end:
            etype, elen = struct.unpack("!HH", p[i:i + 4])
            body = p[i + 4:i + 4 + elen]
            i += 4 + elen
            if etype == 16:  # application_layer_protocol_negotiation
                out, j = [], 2
                while j < len(body):
                    n = body[j]
                    out.append(body[j + 1:j + 1 + n].decode("ascii", "replace"))
                    j += 1 + n
                return out
    except (OSError, IndexError, struct.error):
        pass
    return []


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # a thread per connection; the listen backlog (5 by default) must hold a burst of hundreds of
    # connections, or the kernel drops SYNs and clients stall for a second
    request_queue_size = 1024
    tls = None  # ssl.SSLContext when serving HTTPS
    count = staticmethod(lambda key, n=1: None)  # the emulator's counter

    def finish_request(self, request, client_address):
        if self.tls is None:
            return super().finish_request(request, client_address)
        # the handshake runs here, in the connection's own thread, so a slow or failing client
        # never holds up accept()
        request.settimeout(10)
        if "h2" in client_hello_alpn(request):
            self.count("alpn_h2_offered")
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.count("tls_failures")
            return
        self.count("tls_handshakes")
        conn.settimeout(None)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            conn.close()
