//! Data channels at the router: data producers from clients' channels (or
//! the host), data consumers to clients' channels (or the host), and the
//! forwarding between them. See [`crate::data`].

use std::time::Instant;

use bytes::Bytes;
use smallvec::SmallVec;
use str0m::channel::{ChannelData, ChannelId};
use tracing::{debug, warn};

use super::Router;
use crate::data::{
    DataChannelParams, DataConsumer, DataConsumerOptions, DataProducer, TokenBucket,
};
use crate::error::RouterError;
use crate::transport::negotiation::Change;
use crate::transport::{ChannelWrite, DataEnd};
use crate::{CloseReason, DataConsumerId, DataProducerId, Event, TransportId};

impl Router {
    /// A data producer of the host's own: messages it
    /// [sends](crate::DataProducerApi::send) reach its data consumers like a
    /// client's would (application messages, bots).
    pub fn create_data_producer(
        &mut self,
        now: Instant,
        params: DataChannelParams,
    ) -> DataProducerId {
        self.catch_up(now);
        self.new_data_producer(None, None, params)
    }

    /// Consume `data_producer` on `transport`: the router opens a data
    /// channel to that client ([`Event::DataConsumerOpen`] when it is open)
    /// and forwards every message on it. The first channel of a transport
    /// whose client offered no SCTP m-line needs one more offer
    /// ([`Event::RenegotiationNeeded`], once connected); later ones open
    /// without. Messages sent before the channel opens wait, within
    /// [`Limits::max_data_buffered_bytes`](crate::Limits).
    pub fn consume_data(
        &mut self,
        now: Instant,
        transport: TransportId,
        data_producer: DataProducerId,
        options: DataConsumerOptions,
    ) -> Result<DataConsumerId, RouterError> {
        self.catch_up(now);
        let max = self.config.limits.max_data_channels_per_transport;
        let p = self
            .data_producers
            .get(&data_producer)
            .ok_or(RouterError::UnknownDataProducer(data_producer))?;
        let t = self
            .transports
            .get(&transport)
            .ok_or(RouterError::UnknownTransport(transport))?;
        if p.transport == Some(transport) {
            return Err(RouterError::SelfConsume);
        }
        if t.data_channel_count() >= max {
            warn!(%transport, %data_producer, max, "data consumer refused: max_data_channels_per_transport reached");
            return Err(RouterError::Limit {
                what: "max_data_channels_per_transport",
                max,
            });
        }
        let mut params = p.params.clone();
        if let Some(label) = options.label {
            params.label = label;
        }
        let config = params.to_str0m();
        let dc = self.new_data_consumer(data_producer, Some(transport), params);
        if let Some(t) = self.transports.get_mut(&transport) {
            t.data_consumers.push(dc);
            t.negotiation.queue.push_back(Change::Channel {
                data_consumer: dc,
                config,
            });
        }
        self.try_offer(transport);
        self.drain_transport(transport);
        self.process_work();
        Ok(dc)
    }

    /// Consume `data_producer` in the host: each message arrives as
    /// [`Event::DataMessage`].
    pub fn consume_data_direct(
        &mut self,
        now: Instant,
        data_producer: DataProducerId,
    ) -> Result<DataConsumerId, RouterError> {
        self.catch_up(now);
        let params = self
            .data_producers
            .get(&data_producer)
            .ok_or(RouterError::UnknownDataProducer(data_producer))?
            .params
            .clone();
        let dc = self.new_data_consumer(data_producer, None, params);
        if let Some(c) = self.data_consumers.get_mut(&dc) {
            c.open = true;
        }
        Ok(dc)
    }

    fn new_data_producer(
        &mut self,
        transport: Option<TransportId>,
        channel: Option<ChannelId>,
        params: DataChannelParams,
    ) -> DataProducerId {
        let limits = &self.config.limits;
        let rate = TokenBucket::new(
            limits.max_data_messages_per_second,
            limits.max_data_bytes_per_second,
            self.now,
        );
        let id = DataProducerId(self.ids.next());
        self.data_producers.insert(
            id,
            DataProducer {
                transport,
                channel,
                params,
                consumers: Vec::new(),
                rate,
                stats: Default::default(),
            },
        );
        id
    }

    fn new_data_consumer(
        &mut self,
        data_producer: DataProducerId,
        transport: Option<TransportId>,
        params: DataChannelParams,
    ) -> DataConsumerId {
        let id = DataConsumerId(self.ids.next());
        self.data_consumers.insert(
            id,
            DataConsumer {
                data_producer,
                transport,
                params,
                channel: None,
                open: false,
                waiting: Default::default(),
                waiting_bytes: 0,
                stats: Default::default(),
            },
        );
        if let Some(p) = self.data_producers.get_mut(&data_producer) {
            p.consumers.push(id);
        }
        id
    }

    /// A data channel opened on `tid`: ours (a data consumer's) or the
    /// client's (a new data producer).
    pub(super) fn on_channel_open(&mut self, tid: TransportId, id: ChannelId, label: String) {
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        match t.channels.get(&id).copied() {
            Some(DataEnd::Consumer(dc)) => {
                let Some(c) = self.data_consumers.get_mut(&dc) else {
                    t.close_channel(id);
                    self.drain_transport(tid);
                    return;
                };
                c.open = true;
                c.channel = Some(id);
                let waiting = std::mem::take(&mut c.waiting);
                c.waiting_bytes = 0;
                self.emit(Event::DataConsumerOpen {
                    data_consumer: dc,
                    transport: tid,
                });
                for (binary, data) in waiting {
                    self.deliver_data(dc, binary, &data);
                }
                self.drain_transport(tid);
            }
            Some(DataEnd::Producer(_)) => {}
            None => {
                let max = self.config.limits.max_data_channels_per_transport;
                if t.data_channel_count() >= max {
                    warn!(
                        label,
                        max, "data channel refused: max_data_channels_per_transport reached"
                    );
                    self.stats.data_channels_refused += 1;
                    t.close_channel(id);
                    self.drain_transport(tid);
                    return;
                }
                let params = t.channel_params(id, label);
                let dp = self.new_data_producer(Some(tid), Some(id), params.clone());
                if let Some(t) = self.transports.get_mut(&tid) {
                    t.channels.insert(id, DataEnd::Producer(dp));
                    t.data_producers.push(dp);
                }
                self.emit(Event::DataProducerAdded {
                    data_producer: dp,
                    transport: tid,
                    params,
                });
            }
        }
    }

    /// A message from a client's channel.
    pub(super) fn on_channel_data(&mut self, tid: TransportId, d: ChannelData) {
        let end = self
            .transports
            .get(&tid)
            .and_then(|t| t.channels.get(&d.id))
            .copied();
        match end {
            Some(DataEnd::Producer(dp)) => {
                self.forward_data(dp, d.binary, Bytes::from(d.data));
            }
            Some(DataEnd::Consumer(dc)) => {
                if let Some(c) = self.data_consumers.get_mut(&dc) {
                    c.stats.messages_ignored += 1;
                }
                self.stats.data_messages_dropped += 1;
            }
            None => self.stats.data_messages_dropped += 1,
        }
    }

    /// A channel of `tid` closed (the client closed it, or the association
    /// went away).
    pub(super) fn on_channel_close(&mut self, tid: TransportId, id: ChannelId) {
        let end = self
            .transports
            .get_mut(&tid)
            .and_then(|t| t.channels.remove(&id));
        match end {
            Some(DataEnd::Producer(dp)) => self.close_data_producer(dp, CloseReason::PeerClosed),
            Some(DataEnd::Consumer(dc)) => self.close_data_consumer(dc, CloseReason::PeerClosed),
            None => {}
        }
    }

    /// One message of `dp` to all its data consumers, within the
    /// producer's size and rate limits. Whether it was forwarded.
    pub(crate) fn forward_data(&mut self, dp: DataProducerId, binary: bool, data: Bytes) -> bool {
        let now = self.now;
        let max_size = self.config.limits.max_data_message_bytes;
        let Some(p) = self.data_producers.get_mut(&dp) else {
            return false;
        };
        if data.len() > max_size {
            p.stats.messages_dropped_size += 1;
            self.stats.data_messages_dropped += 1;
            return false;
        }
        if !p.rate.take(data.len(), now) {
            p.stats.messages_dropped_rate += 1;
            self.stats.data_messages_dropped += 1;
            return false;
        }
        p.stats.messages_received += 1;
        p.stats.bytes_received += data.len() as u64;
        self.stats.data_messages_in += 1;
        let consumers: SmallVec<[DataConsumerId; 8]> = p.consumers.iter().copied().collect();
        let mut touched: SmallVec<[TransportId; 8]> = SmallVec::new();
        for dc in consumers {
            if let Some(tid) = self.deliver_data(dc, binary, &data) {
                if !touched.contains(&tid) {
                    touched.push(tid);
                }
            }
        }
        for tid in touched {
            self.drain_transport(tid);
        }
        true
    }

    /// Hand one message to data consumer `dc`; the transport written to
    /// (to drain), if any.
    fn deliver_data(
        &mut self,
        dc: DataConsumerId,
        binary: bool,
        data: &Bytes,
    ) -> Option<TransportId> {
        let max = self.config.limits.max_data_buffered_bytes;
        let c = self.data_consumers.get_mut(&dc)?;
        let Some(tid) = c.transport else {
            c.stats.messages_sent += 1;
            c.stats.bytes_sent += data.len() as u64;
            self.stats.data_messages_out += 1;
            let data_producer = c.data_producer;
            self.emit(Event::DataMessage {
                data_consumer: dc,
                data_producer,
                binary,
                data: data.clone(),
            });
            return None;
        };
        let reliable = c.params.reliability.is_reliable();
        let written = match (c.open, c.channel) {
            (true, Some(ch)) => {
                let t = self.transports.get_mut(&tid)?;
                if t.channel_buffered(ch) + data.len() > max {
                    ChannelWrite::Full
                } else {
                    t.write_channel(ch, binary, data)
                }
            }
            // Not open yet: it waits, within the same bound.
            _ if c.wait(binary, data.clone(), max) => return None,
            _ => ChannelWrite::Full,
        };
        let c = self.data_consumers.get_mut(&dc)?;
        match written {
            ChannelWrite::Written => {
                c.stats.messages_sent += 1;
                c.stats.bytes_sent += data.len() as u64;
                self.stats.data_messages_out += 1;
            }
            ChannelWrite::Full if reliable => {
                debug!(data_consumer = %dc, "reliable data consumer too slow; closing it");
                c.stats.messages_dropped += 1;
                self.stats.data_messages_dropped += 1;
                self.close_data_consumer(dc, CloseReason::TooSlow);
            }
            ChannelWrite::Full | ChannelWrite::Closed => {
                c.stats.messages_dropped += 1;
                self.stats.data_messages_dropped += 1;
            }
        }
        Some(tid)
    }

    pub(crate) fn close_data_consumer(&mut self, dc: DataConsumerId, reason: CloseReason) {
        let Some(c) = self.data_consumers.remove(&dc) else {
            return;
        };
        if let Some(p) = self.data_producers.get_mut(&c.data_producer) {
            p.consumers.retain(|x| *x != dc);
        }
        if let Some(tid) = c.transport {
            if let Some(t) = self.transports.get_mut(&tid) {
                t.data_consumers.retain(|x| *x != dc);
                t.negotiation.queue.retain(
                    |ch| !matches!(ch, Change::Channel { data_consumer, .. } if *data_consumer == dc),
                );
                let ours = t
                    .channels
                    .iter()
                    .find(|(_, e)| **e == DataEnd::Consumer(dc))
                    .map(|(id, _)| *id);
                if let Some(id) = ours {
                    t.close_channel(id);
                }
            }
            if reason != CloseReason::TransportClosed {
                self.drain_transport(tid);
            }
        }
        self.emit(Event::DataConsumerClosed {
            data_consumer: dc,
            transport: c.transport,
            data_producer: c.data_producer,
            reason,
        });
    }

    pub(crate) fn close_data_producer(&mut self, dp: DataProducerId, reason: CloseReason) {
        let Some(p) = self.data_producers.get(&dp) else {
            return;
        };
        for dc in p.consumers.clone() {
            self.close_data_consumer(dc, CloseReason::ProducerClosed);
        }
        let Some(p) = self.data_producers.remove(&dp) else {
            return;
        };
        if let Some(tid) = p.transport {
            if let Some(t) = self.transports.get_mut(&tid) {
                t.data_producers.retain(|x| *x != dp);
                if let Some(id) = p.channel {
                    t.close_channel(id);
                }
            }
            if reason != CloseReason::TransportClosed {
                self.drain_transport(tid);
            }
        }
        self.emit(Event::DataProducerClosed {
            data_producer: dp,
            transport: p.transport,
            reason,
        });
    }

    /// Close every data producer and data consumer of a closing transport.
    pub(super) fn close_transport_data(&mut self, tid: TransportId) {
        let Some(t) = self.transports.get(&tid) else {
            return;
        };
        let consumers = t.data_consumers.clone();
        let producers = t.data_producers.clone();
        for dc in consumers {
            self.close_data_consumer(dc, CloseReason::TransportClosed);
        }
        for dp in producers {
            self.close_data_producer(dp, CloseReason::TransportClosed);
        }
    }
}
