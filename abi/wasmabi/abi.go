package wasmabi

// Version is the ABI major version this host speaks; a module declares its version by
// exporting VersionExportPrefix + N.
const (
	Version             = 1
	VersionExportPrefix = "gnr_abi_v"
	VersionExport       = "gnr_abi_v1"
)

// SupportedVersions are the major versions a host built from this tree accepts.
var SupportedVersions = []int{1}

// Module exports.
const (
	ExportMemory     = "memory"
	ExportLoad       = "gnr_page_load"
	ExportRPC        = "gnr_page_rpc"
	ExportEvent      = "gnr_page_event"
	ExportClose      = "gnr_page_close"
	ExportFeatures   = "gnr_features"
	ExportInitialize = "_initialize"
)

// ImportModule is the one import module of host functions.
const ImportModule = "gnr"

// WASIModule is the only other import module a guest may use, for runtimes that need it.
const WASIModule = "wasi_snapshot_preview1"

// Host function names in ImportModule.
const (
	FnInput       = "input"
	FnMethod      = "method"
	FnPageInfo    = "page_info"
	FnReply       = "reply"
	FnLog         = "log"
	FnStoreGet    = "store_get"
	FnStoreSet    = "store_set"
	FnStoreDelete = "store_delete"
	FnStoreKeys   = "store_keys"
	FnUserGet     = "user_get"
	FnUserSet     = "user_set"
	FnGlobalGet   = "global_get"
	FnGlobalSet   = "global_set"
	FnPush        = "push"
	FnSubscribe   = "subscribe"
	FnUnsubscribe = "unsubscribe"
	FnPublish     = "publish"
	FnNowMS       = "now_ms"
)

// Entry point results.
const (
	StatusOK    = 0
	StatusError = 1
)

// Host function error codes (negative results).
const (
	ErrNotFound     = -1
	ErrInvalid      = -2
	ErrTooLarge     = -3
	ErrNotPermitted = -4
	ErrUnavailable  = -5
)

// Feature bits for gnr_features.
const (
	FeatureEvents uint64 = 1 << 0
	FeatureClose  uint64 = 1 << 1
	FeaturePush   uint64 = 1 << 2
	// FeatureSharedEvents: the module's gnr_page_event does the same for every page of
	// its route (it reads only its input and the global register), so the host may run
	// it once per dbevent and give each subscribed page its outcome. Requires
	// FeatureEvents. See abi/wasm-abi.md section 5.
	FeatureSharedEvents uint64 = 1 << 3

	// HostFeatures is every feature this host supports.
	HostFeatures = FeatureEvents | FeatureClose | FeaturePush | FeatureSharedEvents
)

// Log levels for FnLog.
const (
	LogDebug = 0
	LogInfo  = 1
	LogWarn  = 2
	LogError = 3
)

// Limits (abi/wasm-abi.md section 7).
const (
	MaxInputBytes      = 1 << 20
	MaxReplyBytes      = 4 << 20
	MaxKeyBytes        = 256
	MaxValueBytes      = 1 << 20
	MaxStoreBytes      = 8 << 20
	MaxLogBytes        = 8 << 10
	MaxPushesPerCall   = 64
	MaxPushBytes       = 256 << 10
	MaxPublishPerCall  = 16
	MaxTablesPerPage   = 64
	MaxErrorCodeBytes  = 64
	DefaultMemoryLimit = 64 << 20
)

// Close reasons in the gnr_page_close input.
const (
	CloseClient            = "client"
	CloseIdle              = "idle"
	CloseConnectionExpired = "connection_expired"
	CloseShutdown          = "shutdown"
)
