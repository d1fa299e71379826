-- moonkv test examples/   (the format: docs/scripting.md, "Testing scripts")
script "transfer.lua"

case "moves an amount and audits it" {
  setup = { {"SET", "balance:alice", "100"} },
  keys  = { "balance:alice", "balance:bob" },
  args  = { "30" },
  reply = 70,
  data  = {
    ["balance:alice"] = "70",
    ["balance:bob"]   = "30",
    audit             = { "balance:alice->balance:bob:30" },
  },
}

case "an overdraft fails and leaves nothing behind" {
  setup     = { {"SET", "balance:alice", "10"}, {"RPUSH", "audit", "earlier"} },
  keys      = { "balance:alice", "balance:bob" },
  args      = { "30" },
  error     = "insufficient funds",
  unchanged = true,
}

case "a bad amount is an error reply" {
  keys  = { "balance:alice", "balance:bob" },
  args  = { "lots" },
  error = "^ERR amount must be a positive number$",
  data  = { ["balance:alice"] = NIL, audit = NIL },
}
