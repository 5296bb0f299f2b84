// Sorting and merging parallel columns by a time key: what both builders do
// with records that arrive out of time order (model_builder.cpp sorts a whole
// file's columns once; live_model.cpp merges each chunk's rows into columns
// already sorted). Both keep ties in arrival (file) order, so a column grown
// chunk by chunk ends in the very order one stable sort of the file gives.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <vector>

namespace vramscope::model {

// Row indices [0, n) in the order of key(i), ties in index order.
template <class Key> std::vector<uint32_t> sortOrderBy(size_t n, Key&& key) {
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return key(a) < key(b); });
    return order;
}

template <class Keys> std::vector<uint32_t> sortOrder(const Keys& keys) {
    return sortOrderBy(keys.size(), [&](size_t i) { return keys[i]; });
}

// v reordered as v[order[0]], v[order[1]], …
template <class V> void permute(V& v, const std::vector<uint32_t>& order) {
    V sorted;
    sorted.reserve(v.size());
    for (uint32_t i : order) sorted.push_back(v[i]);
    v.swap(sorted);
}

// Merges m rows that arrived (in arrival order, not necessarily by key) into
// n rows already sorted by key, so that the columns stay sorted with ties in
// arrival order (the old rows first). keyOld(i) and keyNew(j) give the keys;
// forEachColumn(f) calls f(column, newColumn) for each pair of parallel
// vectors (the key column too). Only the old rows after the smallest new key
// move: a late row costs a local re-sort of the rows after it, an on-time
// chunk is a plain append.
// Returns the first row that changed (n when the new rows all went after the old).
template <class KeyOld, class KeyNew, class ForEach>
size_t mergeSortedRowsBy(size_t n, KeyOld&& keyOld, size_t m, KeyNew&& keyNew, ForEach&& forEachColumn) {
    if (m == 0) return n;
    bool sorted = true;
    for (size_t j = 1; j < m && sorted; ++j) sorted = !(keyNew(j) < keyNew(j - 1));
    std::vector<uint32_t> order;
    if (!sorted) order = sortOrderBy(m, keyNew);
    auto newRow = [&](size_t j) { return sorted ? j : size_t(order[j]); };
    // The first old row whose key is above the smallest new key.
    const auto smallest = keyNew(newRow(0));
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (smallest < keyOld(mid)) hi = mid;
        else lo = mid + 1;
    }
    const size_t from = lo;
    if (from == n && sorted) {  // on time: a plain append
        forEachColumn([&](auto& column, const auto& newColumn) {
            column.insert(column.end(), newColumn.begin(), newColumn.end());
        });
        return n;
    }
    // The merged rows from `from` on: old row (from + i) as i, new row j as j | kNew.
    constexpr uint64_t kNew = uint64_t(1) << 63;
    std::vector<uint64_t> plan;
    plan.reserve(n - from + m);
    for (size_t a = from, b = 0; a < n || b < m;) {
        if (b == m || (a < n && !(keyNew(newRow(b)) < keyOld(a)))) plan.push_back(a++ - from);
        else plan.push_back(newRow(b++) | kNew);
    }
    forEachColumn([&](auto& column, const auto& newColumn) {
        using T = typename std::decay_t<decltype(column)>::value_type;
        std::vector<T> tail(column.begin() + std::ptrdiff_t(from), column.end());
        column.resize(from);
        for (uint64_t p : plan) column.push_back(p & kNew ? newColumn[size_t(p & ~kNew)] : tail[size_t(p)]);
    });
    return from;
}

// The same, keyed by a column of the old rows and one of the new.
template <class K, class ForEach>
size_t mergeSortedRows(const std::vector<K>& keys, const std::vector<K>& newKeys, ForEach&& forEachColumn) {
    return mergeSortedRowsBy(
        keys.size(), [&](size_t i) { return keys[i]; }, newKeys.size(), [&](size_t j) { return newKeys[j]; },
        forEachColumn);
}

}  // namespace vramscope::model
