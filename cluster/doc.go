// Package cluster lets several MCU nodes share rooms and recordings through
// a Redis directory. Each node registers its public URL and load every
// heartbeat; a room belongs to the node holding its lease (a key set with
// NX and an expiry, renewed while the room lives); the node that receives a
// join for a room nobody holds places it on the least loaded live node
// under a creation lock. Recordings are listed in Redis so that any node
// can list them and pass a download to the node that has the file.
//
// Redis errors never close a running room: the heartbeat logs them and
// tries again, and when Redis comes back (empty or not) the next heartbeat
// registers the node again, re-takes its leases and republishes its
// recordings.
package cluster
