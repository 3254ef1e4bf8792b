// Package pagepb holds the gRPC wire form of the abi.PageHandler contract: page.proto and
// the Go code protoc generates from it (page.pb.go, page_grpc.pb.go).
//
// The generated files are committed so that building gnrhost needs no protoc. After
// editing page.proto, run `go generate ./abi/pagepb/` (it needs protoc, protoc-gen-go and
// protoc-gen-go-grpc on PATH) and bump abi.PageProtocolVersion if the change is not
// backward compatible.
//
// Nothing but abi/pagerpc should import this package: the host and page plugins program
// against abi.PageHandler and abi.PageHost, and pagerpc converts between the two forms.
package pagepb
