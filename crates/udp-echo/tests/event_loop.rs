//! The mio UDP echo over real sockets on 127.0.0.1.

use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

use lifecycle::Shutdown;
use lifecycle::udp::UdpEndpoint;

/// Each datagram comes back whole, as one datagram, to the peer that sent it —
/// an empty one included — and the loop stops on shutdown.
#[test]
fn event_loop_echoes_each_datagram_whole() {
    let socket = UdpEndpoint::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr();
    let shutdown = Shutdown::new();
    let server = {
        let shutdown = shutdown.clone();
        thread::spawn(move || udp_echo::event_loop::serve(socket, shutdown))
    };
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.connect(addr).unwrap();
    let mut buf = [0u8; 2048];
    for message in [&b"one"[..], b"", &[7u8; 1400]] {
        client.send(message).unwrap();
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], message);
    }
    shutdown.trigger();
    server.join().unwrap().unwrap();
}
