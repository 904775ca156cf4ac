// Package workload is the plumbing the sample shop's two service binaries
// (examples/shop/v1 and examples/shop/v2) share: their command line, the
// writer loop with its rate and its retries, the JSON-lines log of every
// write, and the replay of those logs that checks the final rows.
//
// A binary supplies its release's writes as a Service; workload decides
// which id to touch and when, retries what a service retries (deadlocks,
// lock timeouts) and logs each write once it has committed:
//
//	cfg, err := workload.ParseArgs("shop-v2", os.Args[1:])
//	...
//	stats, err := workload.Write(ctx, db, svc, cfg, logf)
//
// Logs are replayed in the order their writers owned the ids (a seed log
// first), so the last logged write of every id is the value its row must
// hold:
//
//	want, err := workload.Replay("seed.jsonl", "a.jsonl", "b.jsonl")
//	res := want.Compare(customers, parcels)
package workload
