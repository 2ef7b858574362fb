//! A loopback port that refuses connections for as long as a test holds it.
//!
//! A listener that is bound and then dropped frees its port at once: another test (or an outgoing connection's
//! ephemeral port) may take it before the test connects, which then reaches a stranger instead of being refused.
//! [`ClosedPort`] keeps a TCP socket *bound but not listening* on the port instead: a connection to it is refused
//! (the kernel answers the SYN with a reset: `ECONNREFUSED`), and no other socket can bind the port meanwhile (the
//! socket is bound without `SO_REUSEADDR`, so not even a listener that sets it can share the address).

use socket2::{Domain, Protocol, Socket, Type};
use std::net::{Ipv4Addr, SocketAddr};

/// A TCP port of 127.0.0.1 that nothing listens on, reserved until this guard is dropped. Hold it for as long as
/// anything may connect to [`addr`](Self::addr) (a client under test, a mock that posts callbacks, a child process).
#[derive(Debug)]
pub struct ClosedPort {
    /// Bound, never `listen`ed on.
    _socket: Socket,
    addr: SocketAddr,
}

impl ClosedPort {
    /// Binds a TCP socket to an ephemeral port of 127.0.0.1 (without listening).
    pub fn new() -> ClosedPort {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
            .expect("create a TCP socket");
        socket
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("bind a TCP socket to 127.0.0.1:0");
        let addr = socket
            .local_addr()
            .expect("local address of the bound socket")
            .as_socket()
            .expect("an IPv4 socket address");
        ClosedPort {
            _socket: socket,
            addr,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` followed by `path` (which starts with `/`, or is empty).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}
