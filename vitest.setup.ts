// libp2p v3 needs Promise.withResolvers; Node 20 lacks it.
import "./polyfills.ts";
