// Package mailbox carries dbevents between host processes through the registry they
// share: the phase 2 flag (`ipc: {backend: pyro}`), where gnrdaemon is the registry and
// the only channel the processes have in common.
//
// gnrdaemon appends a dbevent to every subscribed page's datachanges, whichever process
// owns the page, but it pushes nothing: the owner process must learn that it has work.
// Each process therefore keeps a mailbox, a page item named after its number, and the
// process that notifies drops a copy of each notice into the mailbox of every other
// process that owns one of the notice's pages (ids end in "|pNN"). Every process reads
// and empties its own mailbox on a short poll (get_datachanges with reset) and hands the
// notices to its pages as if its registry had sent them. The cost is one registry call
// per process and poll, and a delivery latency of about half the poll interval; NATS
// (package ipc) is the low-latency channel.
package mailbox
