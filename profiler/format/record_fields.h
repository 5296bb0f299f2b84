// The field order of every record type, written once and used by both the
// encoder and the decoder (see codec.h), so the two can never disagree.
//
// A visitor V offers:
//   timestamp(uint64_t&)        delta from the previous record's timestamp in
//                               the chunk, zigzag varint
//   span(uint64_t& end, start)  end - start, zigzag varint
//   address(uint64_t&)          delta from the previous address in the chunk
//   u64/u32/i32/enumeration     plain (zigzag for signed) varints
//   uuid(std::array<uint8_t,16>&), text(std::string&)
// docs/trace-format.md lists the same order in tables.
#pragma once

#include "records.h"

#define VRAMSCOPE_FIELDS_INLINE inline __attribute__((always_inline))

namespace vramscope::format {

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, StringDef& r) { v.u32(r.id); v.text(r.text); }

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, ProcessInfo& r) {
    v.timestamp(r.timestampNs); v.u32(r.pid); v.u32(r.hostnameId); v.u32(r.commandLineId);
    v.i32(r.rank); v.i32(r.localRank); v.u64(r.wallClockNs); v.enumeration(r.captureStart);
    v.u32(r.attachIndex); v.u64(r.processStartUnixNs);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, DeviceInfo& r) {
    v.timestamp(r.timestampNs); v.u32(r.deviceId); v.u32(r.nameId); v.uuid(r.uuid);
    v.u64(r.totalMemoryBytes); v.u32(r.smCount); v.u32(r.computeCapability);
    v.u64(r.peakDramBytesPerSec); v.u64(r.peakFlopsPerSec);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, DriverMemory& r) {
    v.timestamp(r.timestampNs); v.enumeration(r.op); v.enumeration(r.kind); v.u32(r.deviceId);
    v.address(r.address); v.u64(r.bytes); v.u64(r.streamId);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, PoolReserved& r) {
    v.timestamp(r.timestampNs); v.u32(r.deviceId); v.address(r.poolAddress); v.u64(r.reservedBytes);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, TensorMemory& r) {
    v.timestamp(r.timestampNs); v.enumeration(r.action); v.u32(r.deviceId); v.address(r.address);
    v.u64(r.bytes); v.u64(r.streamId); v.u32(r.callsiteId);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, AllocFailure& r) {
    v.timestamp(r.timestampNs); v.enumeration(r.source); v.u32(r.deviceId); v.u64(r.requestedBytes);
    v.u64(r.freeBytes); v.u32(r.callsiteId);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, Kernel& r) {
    v.timestamp(r.startNs); v.span(r.endNs, r.startNs); v.u32(r.deviceId); v.u32(r.streamId);
    v.u32(r.nameId); v.u32(r.gridX); v.u32(r.gridY); v.u32(r.gridZ); v.u32(r.blockX);
    v.u32(r.blockY); v.u32(r.blockZ); v.u32(r.registersPerThread); v.u32(r.staticSharedBytes);
    v.u32(r.dynamicSharedBytes); v.delta32(r.correlationId); v.u32(r.graphId); v.u64(r.queuedLeadNs);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, Memcpy& r) {
    v.timestamp(r.startNs); v.span(r.endNs, r.startNs); v.u32(r.deviceId); v.u32(r.streamId);
    v.u64(r.bytes); v.enumeration(r.copyKind); v.enumeration(r.srcKind); v.enumeration(r.dstKind);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, Memset& r) {
    v.timestamp(r.startNs); v.span(r.endNs, r.startNs); v.u32(r.deviceId); v.u32(r.streamId);
    v.u64(r.bytes); v.u32(r.value);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, Range& r) {
    v.timestamp(r.startNs); v.span(r.endNs, r.startNs); v.enumeration(r.kind); v.u32(r.domainId);
    v.u32(r.nameId); v.u32(r.threadId); v.u32(r.depth);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, Mark& r) {
    v.timestamp(r.timestampNs); v.u32(r.domainId); v.u32(r.nameId); v.u32(r.threadId);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, Phase& r) {
    v.timestamp(r.timestampNs); v.enumeration(r.kind); v.u64(r.step); v.u32(r.nameId);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, CounterInfo& r) {
    v.timestamp(r.timestampNs); v.u32(r.counterId); v.u32(r.deviceId); v.enumeration(r.metric);
    v.enumeration(r.source); v.u32(r.nameId); v.u64(r.intervalNs);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, CounterSample& r) {
    v.timestamp(r.timestampNs); v.u32(r.counterId); v.u32(r.valueMilli);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, MemInfo& r) {
    v.timestamp(r.timestampNs); v.u32(r.deviceId); v.u64(r.usedBytes); v.u64(r.freeBytes);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, Note& r) {
    v.timestamp(r.timestampNs); v.enumeration(r.severity); v.u32(r.textId);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, Dropped& r) {
    v.timestamp(r.timestampNs); v.enumeration(r.reason); v.u64(r.count);
}

template <class V> VRAMSCOPE_FIELDS_INLINE void visitFields(V& v, CallsiteDef& r) {
    v.u32(r.id); v.u32(r.parentId); v.u32(r.fileId); v.u32(r.functionId); v.u32(r.line);
}

// The RecordType of each record struct.
template <class R> struct RecordTypeOf;
#define VRAMSCOPE_RECORD_TYPE(R) \
    template <> struct RecordTypeOf<R> { static constexpr RecordType value = RecordType::R; };
VRAMSCOPE_RECORD_TYPE(StringDef)
VRAMSCOPE_RECORD_TYPE(ProcessInfo)
VRAMSCOPE_RECORD_TYPE(DeviceInfo)
VRAMSCOPE_RECORD_TYPE(DriverMemory)
VRAMSCOPE_RECORD_TYPE(PoolReserved)
VRAMSCOPE_RECORD_TYPE(TensorMemory)
VRAMSCOPE_RECORD_TYPE(AllocFailure)
VRAMSCOPE_RECORD_TYPE(Kernel)
VRAMSCOPE_RECORD_TYPE(Memcpy)
VRAMSCOPE_RECORD_TYPE(Memset)
VRAMSCOPE_RECORD_TYPE(Range)
VRAMSCOPE_RECORD_TYPE(Mark)
VRAMSCOPE_RECORD_TYPE(Phase)
VRAMSCOPE_RECORD_TYPE(CounterInfo)
VRAMSCOPE_RECORD_TYPE(CounterSample)
VRAMSCOPE_RECORD_TYPE(MemInfo)
VRAMSCOPE_RECORD_TYPE(Note)
VRAMSCOPE_RECORD_TYPE(Dropped)
VRAMSCOPE_RECORD_TYPE(CallsiteDef)
#undef VRAMSCOPE_RECORD_TYPE

// Calls f(RecordTag<R>{}) for every record struct, in RecordType order.
template <class R> struct RecordTag { using type = R; };
template <class F> void forEachRecordType(F&& f) {
    f(RecordTag<StringDef>{}); f(RecordTag<ProcessInfo>{}); f(RecordTag<DeviceInfo>{});
    f(RecordTag<DriverMemory>{}); f(RecordTag<PoolReserved>{}); f(RecordTag<TensorMemory>{});
    f(RecordTag<AllocFailure>{}); f(RecordTag<Kernel>{}); f(RecordTag<Memcpy>{});
    f(RecordTag<Memset>{}); f(RecordTag<Range>{}); f(RecordTag<Mark>{}); f(RecordTag<Phase>{});
    f(RecordTag<CounterInfo>{}); f(RecordTag<CounterSample>{}); f(RecordTag<MemInfo>{});
    f(RecordTag<Note>{}); f(RecordTag<Dropped>{}); f(RecordTag<CallsiteDef>{});
}

}  // namespace vramscope::format
