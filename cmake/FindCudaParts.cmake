# Finds what the injector and the CUDA samples need, without making CUDA a
# requirement of anything else. Sets VRAMSCOPE_CUPTI_FOUND / _REASON and
# VRAMSCOPE_NVCC_FOUND / _REASON.
set(_cuda_hints $ENV{CUDA_HOME} $ENV{CUDA_PATH} /usr/local/cuda /usr/local/cuda-13.0 /usr/local/cuda-12)
find_path(VRAMSCOPE_CUPTI_INCLUDE_DIR cupti.h
  HINTS ${_cuda_hints} PATH_SUFFIXES include extras/CUPTI/include)
find_path(VRAMSCOPE_CUDA_INCLUDE_DIR cuda.h HINTS ${_cuda_hints} PATH_SUFFIXES include)
find_library(VRAMSCOPE_CUPTI_LIBRARY cupti
  HINTS ${_cuda_hints} PATH_SUFFIXES lib64 lib extras/CUPTI/lib64)
if(VRAMSCOPE_CUPTI_INCLUDE_DIR AND VRAMSCOPE_CUDA_INCLUDE_DIR AND VRAMSCOPE_CUPTI_LIBRARY)
  set(VRAMSCOPE_CUPTI_FOUND TRUE)
else()
  set(VRAMSCOPE_CUPTI_FOUND FALSE)
  set(VRAMSCOPE_CUPTI_REASON "CUDA toolkit with CUPTI not found (set CUDA_HOME; looked in ${_cuda_hints})")
endif()

# nvcc is often installed but not on PATH (/usr/local/cuda/bin): look there
# too, unless the user chose a compiler (CMAKE_CUDA_COMPILER or CUDACXX).
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
  find_program(VRAMSCOPE_NVCC nvcc HINTS ${_cuda_hints} PATH_SUFFIXES bin)
  if(VRAMSCOPE_NVCC)
    set(CMAKE_CUDA_COMPILER ${VRAMSCOPE_NVCC} CACHE FILEPATH "CUDA compiler")
  endif()
endif()
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  set(VRAMSCOPE_NVCC_FOUND TRUE)
else()
  set(VRAMSCOPE_NVCC_FOUND FALSE)
  set(VRAMSCOPE_NVCC_REASON "nvcc not found (set CUDACXX or put nvcc on PATH)")
endif()
