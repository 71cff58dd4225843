//! Borrowed views for data producers and data consumers, shaped like the
//! media views in [`api`](super::api): `XApi` (commands and getters, from
//! [`Router::data_producer`] / [`Router::data_consumer`]) and `XRef`
//! (getters, from the `_ref` variants). Every command takes the host's
//! `now` and settles before it returns.

use std::borrow::Borrow;
use std::time::Instant;

use bytes::Bytes;

use super::Router;
use crate::data::{DataChannelParams, DataConsumerStats, DataProducerStats};
use crate::{CloseReason, DataConsumerId, DataProducerId, TransportId};

impl Router {
    /// Commands for one data producer, if it is open.
    pub fn data_producer(&mut self, id: DataProducerId) -> Option<DataProducerApi<'_>> {
        self.data_producers
            .contains_key(&id)
            .then_some(DataProducerView { router: self, id })
    }

    /// Getters for one data producer, if it is open, from a shared borrow.
    pub fn data_producer_ref(&self, id: DataProducerId) -> Option<DataProducerRef<'_>> {
        self.data_producers
            .contains_key(&id)
            .then_some(DataProducerView { router: self, id })
    }

    /// Commands for one data consumer, if it is open.
    pub fn data_consumer(&mut self, id: DataConsumerId) -> Option<DataConsumerApi<'_>> {
        self.data_consumers
            .contains_key(&id)
            .then_some(DataConsumerView { router: self, id })
    }

    /// Getters for one data consumer, if it is open, from a shared borrow.
    pub fn data_consumer_ref(&self, id: DataConsumerId) -> Option<DataConsumerRef<'_>> {
        self.data_consumers
            .contains_key(&id)
            .then_some(DataConsumerView { router: self, id })
    }
}

/// A view of one data producer. See [`Router::data_producer`].
pub struct DataProducerView<R> {
    router: R,
    id: DataProducerId,
}

/// Commands and getters for one data producer, borrowed mutably.
pub type DataProducerApi<'a> = DataProducerView<&'a mut Router>;

/// Getters for one data producer, borrowed read-only.
pub type DataProducerRef<'a> = DataProducerView<&'a Router>;

impl<R: Borrow<Router>> DataProducerView<R> {
    fn get(&self) -> &crate::data::DataProducer {
        // A view exists only while its data producer does.
        &self.router.borrow().data_producers[&self.id]
    }

    /// This data producer's id.
    pub fn id(&self) -> DataProducerId {
        self.id
    }

    /// The transport whose client opened it; `None` for the host's own.
    pub fn transport(&self) -> Option<TransportId> {
        self.get().transport
    }

    /// What its channel is.
    pub fn params(&self) -> DataChannelParams {
        self.get().params.clone()
    }

    /// Its data consumers.
    pub fn data_consumers(&self) -> Vec<DataConsumerId> {
        self.get().consumers.clone()
    }

    /// Its counters.
    pub fn stats(&self) -> DataProducerStats {
        self.get().stats
    }
}

impl DataProducerView<&mut Router> {
    /// Send one message to every data consumer of this data producer, as if
    /// its client had sent it: within the producer's size and rate limits.
    /// Whether it was forwarded (else dropped and counted).
    pub fn send(&mut self, now: Instant, binary: bool, data: impl Into<Bytes>) -> bool {
        self.router.advance(now);
        let sent = self.router.forward_data(self.id, binary, data.into());
        self.router.process_work();
        sent
    }

    /// Close it and its data consumers (a client's channel is closed too).
    pub fn close(self, now: Instant) {
        self.router.advance(now);
        self.router
            .close_data_producer(self.id, CloseReason::Requested);
        self.router.process_work();
    }
}

/// A view of one data consumer. See [`Router::data_consumer`].
pub struct DataConsumerView<R> {
    router: R,
    id: DataConsumerId,
}

/// Commands and getters for one data consumer, borrowed mutably.
pub type DataConsumerApi<'a> = DataConsumerView<&'a mut Router>;

/// Getters for one data consumer, borrowed read-only.
pub type DataConsumerRef<'a> = DataConsumerView<&'a Router>;

impl<R: Borrow<Router>> DataConsumerView<R> {
    fn get(&self) -> &crate::data::DataConsumer {
        // A view exists only while its data consumer does.
        &self.router.borrow().data_consumers[&self.id]
    }

    /// This data consumer's id.
    pub fn id(&self) -> DataConsumerId {
        self.id
    }

    /// The data producer it forwards.
    pub fn data_producer(&self) -> DataProducerId {
        self.get().data_producer
    }

    /// Its transport; `None` when the host receives its messages.
    pub fn transport(&self) -> Option<TransportId> {
        self.get().transport
    }

    /// Its channel as the client sees it.
    pub fn params(&self) -> DataChannelParams {
        self.get().params.clone()
    }

    /// Whether its channel is open (always, for the host's own).
    pub fn is_open(&self) -> bool {
        self.get().open
    }

    /// Its counters.
    pub fn stats(&self) -> DataConsumerStats {
        self.get().stats
    }
}

impl DataConsumerView<&mut Router> {
    /// Close it (its channel to the client is closed too).
    pub fn close(self, now: Instant) {
        self.router.advance(now);
        self.router
            .close_data_consumer(self.id, CloseReason::Requested);
        self.router.process_work();
    }
}
