//! The UDP echo server over real loopback sockets: each datagram comes back whole,
//! as exactly one datagram, from 0 bytes to the IPv4 maximum.

use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

use lifecycle::Shutdown;
use lifecycle::udp::{MAX_IPV4_PAYLOAD, UdpEndpoint};

/// Starts the server on 127.0.0.1:0 and a connected client for it.
fn start() -> (UdpSocket, Shutdown) {
    let socket = UdpEndpoint::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr();
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    thread::spawn(move || udp_echo::serve(socket, s));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (client, shutdown)
}

/// A datagram of 0 bytes is a real datagram (not an end of stream, as a 0-byte
/// TCP read would be): it is echoed as a 0-byte datagram.
#[test]
fn empty_datagram_comes_back_empty() {
    let (client, shutdown) = start();
    client.send(&[]).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(client.recv(&mut buf).unwrap(), 0);
    // And the server is still there for the next one.
    client.send(b"next").unwrap();
    assert_eq!(client.recv(&mut buf).unwrap(), 4);
    shutdown.trigger();
}

/// The largest UDP payload IPv4 allows, 65,507 bytes, is echoed whole in one
/// datagram: the server's 64 KiB buffer never truncates.
#[test]
fn largest_ipv4_datagram_comes_back_whole() {
    let (client, shutdown) = start();
    let sent: Vec<u8> = (0..MAX_IPV4_PAYLOAD).map(|i| (i % 253) as u8).collect();
    client.send(&sent).unwrap();
    let mut buf = vec![0u8; 70_000];
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(n, MAX_IPV4_PAYLOAD);
    assert!(buf[..n] == sent[..]);
    shutdown.trigger();
}

/// Boundaries are kept: three sends arrive as three datagrams of the same sizes,
/// never merged into one read the way TCP's bytes may be.
#[test]
fn each_send_is_one_datagram_back() {
    let (client, shutdown) = start();
    for msg in [&b"one"[..], b"two!", b"three"] {
        client.send(msg).unwrap();
    }
    let mut buf = [0u8; 64];
    for msg in [&b"one"[..], b"two!", b"three"] {
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], msg);
    }
    shutdown.trigger();
}
