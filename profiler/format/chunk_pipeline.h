// Decoding a trace's chunks on several threads while handing them, in file
// order, to one consumer: what loading a model and building a trace's index
// (model/trace_index.h) both do. At most a few chunks per thread wait to be
// consumed, so memory stays bounded by the chunks in flight, not the file.
#pragma once

#include "reader.h"

#include <cstddef>
#include <functional>
#include <string>

namespace vramscope::format {

// Called in file order, from one thread at a time: chunk `index`, decoded
// (ok) or not (then `error` says why and `chunk` holds nothing). Return
// false to stop.
using ChunkConsumer = std::function<bool(size_t index, const DecodedChunk& chunk, bool ok, const std::string& error)>;

// Decodes every chunk of reader on `threads` threads (0 = every core).
// Returns false when the consumer stopped early.
bool decodeChunksInOrder(const TraceReader& reader, unsigned threads, const ChunkConsumer& consume);

}  // namespace vramscope::format
