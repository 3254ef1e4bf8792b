// Package registrypb holds the gRPC wire form of the abi.Registry contract: registry.proto
// and the Go code protoc generates from it (registry.pb.go, registry_grpc.pb.go).
//
// The generated files are committed so that building gnrhost needs no protoc. After
// editing registry.proto, run `go generate ./abi/registrypb/` (it needs protoc,
// protoc-gen-go and protoc-gen-go-grpc on PATH) and bump abi.RegistryProtocolVersion if
// the change is not backward compatible.
//
// Nothing but abi/registryrpc should import this package: the host and the plugins
// program against abi.Registry, and registryrpc converts between the two forms.
package registrypb
