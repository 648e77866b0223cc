"""Streaming ingest: ticks from Kafka or Redis Streams into the warehouse, exactly once.

``python -m warehouse produce kafka|redis`` publishes a simulated feed (:mod:`.produce`);
``python -m warehouse ingest kafka|redis`` consumes a topic or stream into the warehouse
(:mod:`.cli`). What lives where:

* the consumers, one per broker: :mod:`.kafka_consumer` (+ :mod:`.kafka_prejoin`, the
  group join started while the CLI loads), :mod:`.redis_consumer` (+ :mod:`.redis_socket`,
  its own socket for raw replies); both are a :class:`.batch.Source` filling a
  :class:`.batch.Batch`;
* the loop they share, read -> write -> acknowledge: :mod:`.runner`; writing one batch
  (decode, rejects, ticks, retries, replay): :mod:`.sink`;
* decoding JSON messages into validated ticks: :mod:`.decode`, with the numba kernels
  :mod:`.json_kernels` (the producer's layout) and :mod:`.resp_kernels` (Redis replies);
  a batch's payloads as slices of one buffer: :mod:`.messages`;
* :mod:`.numba_options` (the kernels' numba options, all public),
  :mod:`.broker_defaults`, :mod:`.extras` (``tickhouse[redis]`` / ``[kafka]`` and the hint
  when one is missing).

The broker clients (redis-py, confluent-kafka) are extras and imported only by the
consumers and the producer's senders, never by ``import warehouse``.
"""
