/* C interface of libselm_sentencepiece, the shared library that wraps SentencePiece.
 *
 * Why a separate library: Debian's libsentencepiece embeds its own protobuf-lite and exports
 * those symbols, while LibTorch pulls in libprotobuf; linked into one process the two copies
 * interpose and crash during static initialisation. selm_core therefore never links
 * SentencePiece: it dlopen()s this library with RTLD_LOCAL | RTLD_DEEPBIND so that
 * SentencePiece binds to its own protobuf, and resolves the functions below with dlsym().
 *
 * Only C types cross this boundary. Functions that produce variable-sized output follow a
 * two-call protocol: they write at most `capacity` elements and return the full size, so a
 * caller whose buffer was too small calls again with a larger one. Errors are reported as a
 * negative return value (or NULL) plus a NUL-terminated message in the caller's buffer.
 */
#ifndef SELM_TEXT_SHIM_SENTENCEPIECE_SHIM_H_
#define SELM_TEXT_SHIM_SENTENCEPIECE_SHIM_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a signature below changes; the loader refuses a library of another version. */
#define SELM_SP_SHIM_ABI_VERSION 1

/* Piece kinds returned by selm_sp_piece_kind (exactly one is returned). */
#define SELM_SP_PIECE_NORMAL 1
#define SELM_SP_PIECE_UNKNOWN 2
#define SELM_SP_PIECE_CONTROL 3
#define SELM_SP_PIECE_UNUSED 5
#define SELM_SP_PIECE_BYTE 6

/* Which special id selm_sp_special_id returns. */
#define SELM_SP_SPECIAL_UNK 0
#define SELM_SP_SPECIAL_BOS 1
#define SELM_SP_SPECIAL_EOS 2
#define SELM_SP_SPECIAL_PAD 3

typedef struct selm_sp_processor selm_sp_processor;

int32_t selm_sp_abi_version(void);

/* Messages below this level are not printed (0 info, 1 warning, 2 error). */
void selm_sp_set_min_log_level(int32_t level);

/* Loads a model from the bytes of a serialized ModelProto (a tokenizer.model file's content).
 * Returns NULL and writes a message to `error` on failure. */
selm_sp_processor* selm_sp_load(const char* model_bytes, size_t model_size, char* error,
                                size_t error_capacity);
void selm_sp_free(selm_sp_processor* processor);

int32_t selm_sp_piece_size(const selm_sp_processor* processor);
/* The id of a special piece (SELM_SP_SPECIAL_*), -1 when the model has none. */
int32_t selm_sp_special_id(const selm_sp_processor* processor, int32_t which);
/* SELM_SP_PIECE_* of `id`, -1 when out of range. */
int32_t selm_sp_piece_kind(const selm_sp_processor* processor, int32_t id);
/* The id of a piece, or -1 when the vocabulary lacks it (unlike SentencePiece, which answers
 * with the unknown id). */
int32_t selm_sp_piece_to_id(const selm_sp_processor* processor, const char* piece, size_t piece_size);
/* Copies the piece string of `id` (not NUL-terminated); returns its size, -1 when out of range. */
int64_t selm_sp_id_to_piece(const selm_sp_processor* processor, int32_t id, char* piece, size_t capacity);

/* Encodes `text` to ids. Returns the number of ids, -1 on error. */
int64_t selm_sp_encode(const selm_sp_processor* processor, const char* text, size_t text_size,
                       int32_t* ids, size_t capacity, char* error, size_t error_capacity);
/* Decodes ids to text (not NUL-terminated). Returns the text size, -1 on error. */
int64_t selm_sp_decode(const selm_sp_processor* processor, const int32_t* ids, size_t count,
                       char* text, size_t capacity, char* error, size_t error_capacity);

/* Runs SentencePieceTrainer::Train on the lines of the `input_count` files `input_paths` with
 * `count` key/value arguments named like spm_train's --key=value flags (the model is written to
 * <model_prefix>.model). Returns 0 on success, -1 on error. */
int32_t selm_sp_train(const char* const* input_paths, size_t input_count, const char* const* keys,
                      const char* const* values, size_t count, char* error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif /* SELM_TEXT_SHIM_SENTENCEPIECE_SHIM_H_ */
