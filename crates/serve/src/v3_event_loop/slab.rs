//! The loop's table of connections: a slab, indexed by the token itself.
//!
//! Every readiness event names a token, and the loop looks its connection up
//! several times per event (serve it, note its progress, reschedule its
//! deadline). In a `HashMap<Token, _>` each look-up hashes the token with
//! SipHash, a hash built to resist keys an attacker chooses — but these keys
//! are ours. Here the token *is* the place: `slots[index]`, one bounds check.
//! This is what mio's own examples and tokio do (the `slab` crate).
//!
//! A place is reused once its connection is gone, and that is where a slab
//! needs care: an event fetched in the same `epoll_wait` batch, a deadline left
//! in the heap, or a chat letter addressed to the old connection must not reach
//! the new one. So each place counts its tenants (a *generation*), and a token
//! carries both: `generation << INDEX_BITS | index`. A token whose generation is
//! not the place's current one finds nothing, as a closed connection's token did
//! in the map.

use mio::Token;

/// Bits of a token that say the place; the bits above say the generation.
/// 2^24 places (16 million connections per loop) is past any fd limit.
const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

/// Generations wrap below this, so a connection's token never reaches
/// [`Slab::FIRST_OTHER`], where the tokens of other sockets start.
const GENERATIONS: usize = 1 << 30;

/// One place: its current generation, and its connection if it has one.
struct Place<T> {
    generation: usize,
    value: Option<T>,
}

/// Connections by token. `insert` takes a free place (the one left most
/// recently, or a new one), `get`/`remove` check the token's generation.
pub(super) struct Slab<T> {
    places: Vec<Place<T>>,
    /// Places with no connection, the most recently freed last.
    free: Vec<usize>,
    len: usize,
}

impl<T> Slab<T> {
    /// Tokens from here up (below the waker's) are not connections: the
    /// sockets a session opens itself and refused connections get these, from
    /// a counter, never reused.
    pub(super) const FIRST_OTHER: usize = 1 << 62;

    /// An empty table.
    pub(super) fn new() -> Slab<T> {
        Slab {
            places: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    /// The token the next [`Slab::insert`] will return: register the socket
    /// under it first, then insert its connection.
    pub(super) fn next_token(&self) -> Token {
        match self.free.last() {
            Some(&index) => token(index, self.places[index].generation),
            // Index 0 is never handed out: token 0 is the listener's.
            None => token(self.places.len().max(1), 0),
        }
    }

    /// Puts `value` in a free place and returns its token.
    pub(super) fn insert(&mut self, value: T) -> Token {
        let next = self.next_token();
        let index = next.0 & INDEX_MASK;
        if self.free.pop().is_none() {
            while self.places.len() <= index {
                self.places.push(Place {
                    generation: 0,
                    value: None,
                });
            }
        }
        self.places[index].value = Some(value);
        self.len += 1;
        next
    }

    /// The connection of this token, if it is still there.
    pub(super) fn get(&self, token: Token) -> Option<&T> {
        let (index, generation) = split(token);
        self.places
            .get(index)
            .filter(|p| p.generation == generation)?
            .value
            .as_ref()
    }

    /// The connection of this token, if it is still there, to change.
    pub(super) fn get_mut(&mut self, token: Token) -> Option<&mut T> {
        let (index, generation) = split(token);
        self.places
            .get_mut(index)
            .filter(|p| p.generation == generation)?
            .value
            .as_mut()
    }

    /// Takes the connection out; its place gets a new generation, so this
    /// token finds nothing from now on.
    pub(super) fn remove(&mut self, token: Token) -> Option<T> {
        let (index, generation) = split(token);
        let place = self
            .places
            .get_mut(index)
            .filter(|p| p.generation == generation)?;
        let value = place.value.take()?;
        place.generation = (place.generation + 1) % GENERATIONS;
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    /// How many connections it holds.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The tokens of every connection it holds.
    pub(super) fn tokens(&self) -> impl Iterator<Item = Token> + '_ {
        self.places
            .iter()
            .enumerate()
            .filter(|(_, p)| p.value.is_some())
            .map(|(index, p)| token(index, p.generation))
    }
}

/// The token of place `index` in its `generation`.
fn token(index: usize, generation: usize) -> Token {
    Token(generation << INDEX_BITS | index)
}

/// A token's place and generation.
fn split(token: Token) -> (usize, usize) {
    (token.0 & INDEX_MASK, token.0 >> INDEX_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reused place answers only its new token: an event, deadline or
    /// letter for the connection that left it finds nothing.
    #[test]
    fn a_reused_place_does_not_answer_the_old_token() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        assert_ne!(a, Token(0), "token 0 is the listener's");
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b");
        assert_eq!(b.0 & INDEX_MASK, a.0 & INDEX_MASK, "the place is reused");
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.len(), 1);
    }

    /// `next_token` says what `insert` returns, and `tokens` lists exactly
    /// the connections held.
    #[test]
    fn next_token_is_what_insert_returns() {
        let mut slab = Slab::new();
        let mut held = Vec::new();
        for i in 0..5 {
            let next = slab.next_token();
            assert_eq!(slab.insert(i), next);
            held.push(next);
        }
        slab.remove(held[1]);
        slab.remove(held[3]);
        let next = slab.next_token();
        assert_eq!(slab.insert(9), next);
        let mut tokens: Vec<Token> = slab.tokens().collect();
        tokens.sort();
        let mut expected = vec![held[0], held[2], held[4], next];
        expected.sort();
        assert_eq!(tokens, expected);
        assert!(tokens.iter().all(|t| t.0 < Slab::<u8>::FIRST_OTHER));
    }
}
