//go:build wasip1

package gnr

// The host functions of import module "gnr" (ABI section 3). A Go string parameter is
// passed as the two i32 (ptr, len); *byte and uint32 are one i32 each.

//go:wasmimport gnr input
func hostInput(buf *byte, cap uint32) int32

//go:wasmimport gnr method
func hostMethod(buf *byte, cap uint32) int32

//go:wasmimport gnr page_info
func hostPageInfo(buf *byte, cap uint32) int32

//go:wasmimport gnr reply
func hostReply(data string) int32

//go:wasmimport gnr log
func hostLog(level int32, msg string)

//go:wasmimport gnr store_get
func hostStoreGet(key string, buf *byte, cap uint32) int32

//go:wasmimport gnr store_set
func hostStoreSet(key, val string) int32

//go:wasmimport gnr store_delete
func hostStoreDelete(key string) int32

//go:wasmimport gnr store_keys
func hostStoreKeys(buf *byte, cap uint32) int32

//go:wasmimport gnr user_get
func hostUserGet(key string, buf *byte, cap uint32) int32

//go:wasmimport gnr user_set
func hostUserSet(key, val string) int32

//go:wasmimport gnr global_get
func hostGlobalGet(key string, buf *byte, cap uint32) int32

//go:wasmimport gnr global_set
func hostGlobalSet(key, val string) int32

//go:wasmimport gnr push
func hostPush(msg string) int32

//go:wasmimport gnr subscribe
func hostSubscribe(table string) int32

//go:wasmimport gnr unsubscribe
func hostUnsubscribe(table string) int32

//go:wasmimport gnr publish
func hostPublish(table, ev string) int32

//go:wasmimport gnr now_ms
func hostNowMS() int64

// The module's exports (ABI section 2).

//go:wasmexport gnr_abi_v1
func gnrABIv1() {}

//go:wasmexport gnr_features
func gnrFeatures(host uint64) uint64 { return negotiate(host) }

//go:wasmexport gnr_page_load
func gnrPageLoad() int32 { return run(entryLoad) }

//go:wasmexport gnr_page_rpc
func gnrPageRPC() int32 { return run(entryRPC) }

//go:wasmexport gnr_page_event
func gnrPageEvent() int32 { return run(entryEvent) }

//go:wasmexport gnr_page_close
func gnrPageClose() int32 { return run(entryClose) }
