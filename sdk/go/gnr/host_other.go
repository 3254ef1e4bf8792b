//go:build !wasip1

package gnr

import "time"

// Outside wasip1 there is no host: the package compiles so that handlers can be built,
// vetted and tested natively, and every host call fails with ErrUnavailable.

const unavailable = int32(ErrUnavailable)

func hostInput(buf *byte, cap uint32) int32                 { return unavailable }
func hostMethod(buf *byte, cap uint32) int32                { return unavailable }
func hostPageInfo(buf *byte, cap uint32) int32              { return unavailable }
func hostReply(data string) int32                           { return unavailable }
func hostLog(level int32, msg string)                       {}
func hostStoreGet(key string, buf *byte, cap uint32) int32  { return unavailable }
func hostStoreSet(key, val string) int32                    { return unavailable }
func hostStoreDelete(key string) int32                      { return unavailable }
func hostStoreKeys(buf *byte, cap uint32) int32             { return unavailable }
func hostUserGet(key string, buf *byte, cap uint32) int32   { return unavailable }
func hostUserSet(key, val string) int32                     { return unavailable }
func hostGlobalGet(key string, buf *byte, cap uint32) int32 { return unavailable }
func hostGlobalSet(key, val string) int32                   { return unavailable }
func hostPush(msg string) int32                             { return unavailable }
func hostSubscribe(table string) int32                      { return unavailable }
func hostUnsubscribe(table string) int32                    { return unavailable }
func hostPublish(table, ev string) int32                    { return unavailable }
func hostNowMS() int64                                      { return time.Now().UnixMilli() }
