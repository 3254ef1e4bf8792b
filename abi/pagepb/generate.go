package pagepb

// Run from the module root so paths=source_relative puts the files next to the .proto.
//go:generate sh -c "cd ../.. && protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative abi/pagepb/page.proto"
