//! The router's bounded output queue.

use std::collections::VecDeque;

use crate::io::Output;

/// Outputs waiting for the host. Bounded: past the limit, transmits are
/// dropped (and counted); events are always kept, since losing one would
/// leave the host with a wrong picture of the router.
pub(crate) struct OutQueue {
    queue: VecDeque<Output>,
    max: usize,
    pub dropped: u64,
}

impl OutQueue {
    pub(crate) fn new(max: usize) -> Self {
        OutQueue {
            queue: VecDeque::new(),
            max,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, o: Output) {
        if self.queue.len() >= self.max && matches!(o, Output::Transmit(_)) {
            self.dropped += 1;
            return;
        }
        self.queue.push_back(o);
    }

    pub(crate) fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}
