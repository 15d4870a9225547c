// llama-server's utility endpoints, with its request and response shapes:
//   POST /tokenize    {content, add_special = false, parse_special = true, with_pieces = false}
//                     -> {tokens: [id, ...]} or, with_pieces, {tokens: [{id, piece}]} where piece is the
//                        token's text, or its bytes as an array when they are not valid UTF-8 alone
//   POST /detokenize  {tokens: [id, ...]} -> {content}
//   GET  /props       {default_generation_settings, total_slots, model_path, chat_template, ...}
#include "core/error.h"
#include "model/multimodal.h"
#include "model/vision_tower.h"
#include "server/api_common.h"
#include "server/request_body.h"
#include "server/server.h"

namespace g4::server {

namespace {

constexpr size_t kMaxTokenizeBytes = 8u << 20;

[[noreturn]] void bad(const std::string& param, const std::string& message, const char* code = "invalid_value") {
  throw ApiError(400, message, param, code);
}

void refuse_unknown(const Json& body, std::initializer_list<const char*> known) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool ok = it.value().is_null();
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) throw ApiError(400, "Unrecognized request argument supplied: " + it.key(), it.key(), "unsupported_parameter");
  }
}

bool flag(const Json& body, const char* key, bool def) {
  if (!body.contains(key) || body[key].is_null()) return def;
  if (!body[key].is_boolean()) bad(key, std::string("'") + key + "' must be a boolean", "invalid_type");
  return body[key].get<bool>();
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

void ApiServer::tokenize(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_json_checked(req.body);
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_type");
  refuse_unknown(body, {"content", "add_special", "parse_special", "with_pieces"});
  if (!body.contains("content") || !body["content"].is_string())
    bad("content", "'content' is required and must be a string", "missing_required_parameter");
  const std::string& text = body["content"].get_ref<const std::string&>();
  if (text.size() > kMaxTokenizeBytes) bad("content", "'content' is longer than " + std::to_string(kMaxTokenizeBytes) + " bytes");
  const bool add_special = flag(body, "add_special", false);
  const bool parse_special = flag(body, "parse_special", true);
  const bool with_pieces = flag(body, "with_pieces", false);
  const Tokenizer& tok = chat_->tokenizer();
  std::vector<int32_t> ids = tok.encode(text, parse_special, add_special);
  Json tokens = Json::array();
  for (int32_t id : ids) {
    if (!with_pieces) {
      tokens.push_back(id);
      continue;
    }
    std::string piece = tok.token_bytes(id);
    Json p = Json::array();
    if (valid_utf8(piece)) {
      p = piece;
    } else {
      for (unsigned char c : piece) p.push_back(int(c));
    }
    tokens.push_back({{"id", id}, {"piece", p}});
  }
  send_json(res, 200, {{"tokens", tokens}});
}

void ApiServer::detokenize(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_json_checked(req.body);
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_type");
  refuse_unknown(body, {"tokens"});
  if (!body.contains("tokens") || !body["tokens"].is_array())
    bad("tokens", "'tokens' is required and must be an array of token ids", "missing_required_parameter");
  const int32_t vocab = chat_->tokenizer().vocab_size();
  std::vector<int32_t> ids;
  for (const Json& x : body["tokens"]) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= vocab)
      bad("tokens", "'tokens' must hold token ids in [0, " + std::to_string(vocab) + ")");
    ids.push_back(int32_t(x.get<int64_t>()));
  }
  send_json(res, 200, {{"content", chat_->tokenizer().decode(ids)}});
}

void ApiServer::props(const HttpRequest&, HttpResponse& res) {
  const SamplingParams& d = opt_.defaults;
  const Tokenizer& tok = chat_->tokenizer();
  // The settings a request gets when it sets nothing, in llama-server's names and conventions
  // (-1 windows: every token; a random seed is reported as 4294967295, as llama-server does).
  Json params = {{"n_predict", opt_.default_max_tokens},
                 {"seed", opt_.fixed_seed ? Json(d.seed) : Json(4294967295u)},
                 {"temperature", d.greedy ? 0.0f : d.temperature},
                 {"top_k", d.top_k},
                 {"top_p", d.top_p},
                 {"min_p", d.min_p},
                 {"typical_p", d.typical_p},
                 {"xtc_probability", d.xtc_probability},
                 {"xtc_threshold", d.xtc_threshold},
                 {"repeat_last_n", d.penalty_window == 0 ? -1 : d.penalty_window},
                 {"repeat_penalty", d.repetition_penalty},
                 {"presence_penalty", d.presence_penalty},
                 {"frequency_penalty", d.frequency_penalty},
                 {"dry_multiplier", d.dry_multiplier},
                 {"dry_base", d.dry_base},
                 {"dry_allowed_length", d.dry_allowed_length},
                 {"dry_penalty_last_n", d.dry_window == 0 ? -1 : d.dry_window},
                 {"dry_sequence_breakers", d.dry_sequence_breakers},
                 {"mirostat", d.mirostat},
                 {"mirostat_tau", d.mirostat_tau},
                 {"mirostat_eta", d.mirostat_eta},
                 {"stop", Json::array()},
                 {"max_tokens", opt_.default_max_tokens},
                 {"n_probs", 0},
                 {"stream", false},
                 {"samplers", {"penalties", "dry", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature"}}};
  SchedulerStats s = scheduler_->stats();
  Json out = {{"default_generation_settings",
               {{"id", 0}, {"id_task", -1}, {"n_ctx", opt_.scheduler.ctx}, {"speculative", false},
                {"is_processing", s.running > 0}, {"params", params}}},
              {"total_slots", opt_.scheduler.parallel},
              {"model_alias", opt_.model_id},
              {"model_path", opt_.model_path.empty() ? tok.source() : opt_.model_path},
              {"chat_template", chat_->template_source()},
              // What the chat page offers to attach (llama-server's field): the towers this model has.
              {"modalities", {{"vision", model_->media() && model_->media()->vision != nullptr},
                              {"audio", model_->media() && model_->media()->audio != nullptr}}},
              {"bos_token", tok.token_bytes(tok.bos_id())},
              {"eos_token", tok.token_bytes(tok.eos_id())},
              {"build_info", kFingerprint},
              {"is_sleeping", false}};
  send_json(res, 200, out);
}

}  // namespace g4::server
