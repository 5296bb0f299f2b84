// CSV of allocations: one row per block (tensor level) and per driver
// allocation, with its lifetime, size, where it was allocated and, when a
// categorization is given, its category, iteration and phase.
#pragma once

#include "analysis/categories.h"
#include "analysis/kernel_boundness.h"
#include "model/trace_model.h"

#include <ostream>

namespace vramscope::exporting {

// Columns: level,alloc_ns,free_ns,bytes,address,memory_kind,callsite,category,iteration,phase
// free_ns is empty for blocks never freed; category/iteration/phase are
// empty for driver rows when the model's blocks are tensor blocks, or when
// categories is null. False when the stream failed.
bool writeAllocationsCsv(const model::TraceModel& model, const analysis::Categorization* categories, std::ostream& out);

// CSV of kernels: one row per kernel name, most GPU time first.
// Columns: name,count,total_ns,mean_ns,bound,bound_source,sm_pct,dram_pct,tensor_pct
// bound_source is counters or name; the percentages are the name's values
// fitted to the counter samples (kernel_boundness.h), empty where no sample
// covered it. False when the stream failed.
bool writeKernelsCsv(const std::vector<analysis::KernelStats>& kernels, const analysis::KernelBoundness& bounds,
                     std::ostream& out);

}  // namespace vramscope::exporting
