"""The radar agent on a Linux-class board: IQ in, signed and delivered violations out.

    source (`sources`: IQ WAV or live PCM on stdin) -> DopplerProcessor -> VehiclePass
      -> `RadarAgent` (the portable `edge.core.radar.Radar` + `camera` frame and plate reader)
      -> journal (fsync) -> Outbox -> MQTT

`loop.AgentLoop` interleaves the source, transport events and the outbox on one thread;
`runner.run` wires it all up behind `speedledger edge run`.
"""
