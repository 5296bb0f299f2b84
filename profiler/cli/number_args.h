// Numbers given on a command line, read one way by every `vramscope`
// command and by the launchers without Qt (vramscope-record, vramscope-attach).
//
// Only plain decimal text is a number here, and each option states its range:
//   - a whole number is digits only: no sign, space, "0x", exponent or digit
//     separator ("1e3", " 8" and "0x10" are typing mistakes, not numbers to
//     guess at);
//   - a decimal number is digits with at most one point and an optional
//     leading '-' ("5", "2.5", ".5"). "nan", "inf", exponents and hex floats
//     are refused: a NaN threshold compares false with everything, which
//     once turned `diff --fail-on-regression nan` into a gate that never fails.
// Outside its range a value is refused with a sentence that gives the range,
// so nothing wraps around (a batch of 4294967295 doubled in 32 bits is 4294967294).
// Plain C++, no Qt.
#pragma once

#include <cstdint>
#include <string>

namespace vramscope::cli {

// The value of option (e.g. "--top") when text is a whole number from lo to
// hi; false otherwise, with a one-line sentence in *error ("--top must be a
// whole number from 0 to 100000, not 'x'"). why, when given, ends the
// sentence: what the range protects.
bool readWholeNumber(const std::string& option, const std::string& text, uint64_t lo, uint64_t hi, uint64_t* out,
                     std::string* error, const char* why = nullptr);

// The same for a decimal number from lo to hi (both finite).
bool readDecimalNumber(const std::string& option, const std::string& text, double lo, double hi, double* out,
                       std::string* error, const char* why = nullptr);

// text as a message can quote it: one line, at most 40 characters, control
// characters as '?'.
std::string quotedForMessage(const std::string& text);

}  // namespace vramscope::cli
