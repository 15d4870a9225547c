// JSON-constraint benchmark on the real Gemma 4 vocabulary (262,144 tokens): the one-time
// vocabulary build, schema compile time, and the time of one token mask at every step of
// realistic documents (the text a model would write, tokenized as the model would), for
// response_format (JSON) and forced tool calls (Gemma syntax).
//
//   json_constraint_bench [repeats=3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/json_constraint.h"
#include "text/tokenizer.h"

using namespace g4;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

namespace {

const char* kSchema = R"({"type":"object","properties":{
  "name":{"type":"string","minLength":1,"maxLength":80},
  "age":{"type":"integer","minimum":0,"maximum":150},
  "email":{"type":"string","format":"email"},
  "birthday":{"type":"string","format":"date"},
  "tags":{"type":"array","items":{"type":"string","pattern":"^[a-z-]+$"},"maxItems":5},
  "address":{"$ref":"#/$defs/Address"},
  "role":{"enum":["admin","editor","viewer"]},
  "score":{"type":"number","minimum":0,"maximum":1},
  "notes":{"type":["string","null"]}},
  "required":["name","age","email","role"],"additionalProperties":false,
  "$defs":{"Address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"},
    "zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["city"]}}})";

const char* kJsonDoc =
    R"({"name":"Ada Lovelace","age":36,"email":"ada@analytical.org","birthday":"1815-12-10",)"
    R"("tags":["math","poetry-of-science"],"address":{"street":"12 St James's Square","city":"London","zip":"12345"},)"
    R"("role":"editor","score":0.97,"notes":"First to publish an algorithm intended for a machine; wrote extensive notes on the engine."})";

const char* kGemmaDoc =
    "call:update_person{address:{city:<|\"|>London<|\"|>,street:<|\"|>12 St James's Square<|\"|>,zip:<|\"|>12345<|\"|>},"
    "age:36,birthday:<|\"|>1815-12-10<|\"|>,email:<|\"|>ada@analytical.org<|\"|>,name:<|\"|>Ada Lovelace<|\"|>,"
    "notes:<|\"|>First to publish an algorithm intended for a machine; wrote extensive notes on the engine.<|\"|>,"
    "role:<|\"|>editor<|\"|>,score:0.97,tags:[<|\"|>math<|\"|>,<|\"|>poetry-of-science<|\"|>]}";

struct Stats {
  std::vector<double> ms;
  void report(const char* what) {
    std::sort(ms.begin(), ms.end());
    double sum = 0;
    for (double x : ms) sum += x;
    std::printf("%-34s steps %4zu  mean %.3f ms  median %.3f ms  p90 %.3f ms  max %.3f ms\n", what, ms.size(),
                sum / double(ms.size()), ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back());
  }
};

void run(const char* what, JsonConstraint& c, const std::vector<int32_t>& ids, const std::vector<std::string>& bytes,
         const ConstraintVocab& vocab, int repeats) {
  Stats st;
  std::vector<uint8_t> mask;
  const bool verbose = std::getenv("VERBOSE") != nullptr;
  for (int r = 0; r < repeats; ++r) {
    auto cc = c.clone();
    std::string text;
    for (int32_t id : ids) {
      auto t0 = Clock::now();
      compute_allowed_mask(*cc, vocab, {1}, mask);
      st.ms.push_back(ms_since(t0));
      if (verbose && r == 0 && st.ms.back() > 1.0) {
        size_t n = 0;
        for (uint8_t m : mask) n += m;
        std::printf("  %.2f ms, %zu allowed, after ...%s\n", st.ms.back(), n,
                    text.substr(text.size() > 40 ? text.size() - 40 : 0).c_str());
      }
      text += bytes[size_t(id)];
      if (!mask[size_t(id)]) {
        std::printf("%s: token %d (\"%s\") not allowed\n", what, id, bytes[size_t(id)].c_str());
        std::exit(1);
      }
      cc->accept_bytes(bytes[size_t(id)]);
    }
    if (!cc->is_complete()) {
      std::printf("%s: not complete\n", what);
      std::exit(1);
    }
  }
  st.report(what);
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
  auto t0 = Clock::now();
  auto tok = Tokenizer::load_gguf(std::string(G4_SHARED_DIR) + "/fixtures/tokenizer/gemma4-vocab.gguf");
  std::printf("tokenizer load                      %.1f ms\n", ms_since(t0));
  t0 = Clock::now();
  const std::vector<std::string> bytes = constraint_token_bytes(*tok);
  ConstraintVocab vocab(bytes);
  std::printf("constraint vocabulary build         %.1f ms (once per vocabulary, shared by all requests)\n",
              ms_since(t0));

  t0 = Clock::now();
  auto json = JsonConstraint::from_schema_text(kSchema);
  std::printf("schema compile (Json)               %.2f ms\n", ms_since(t0));
  run("response_format json_schema", *json, tok->encode(kJsonDoc), bytes, vocab, repeats);

  auto any = JsonConstraint::any_object();
  run("response_format json_object", *any, tok->encode(kJsonDoc), bytes, vocab, repeats);

  JsonConstraintOptions g;
  g.syntax = JsonSyntax::Gemma;
  t0 = Clock::now();
  auto call = JsonConstraint::tool_call({{"update_person", Json::parse(kSchema)},
                                         {"delete_person", Json::parse(R"({"type":"object","properties":{"id":{"type":"integer"}}})")}},
                                        g);
  std::printf("schema compile (Gemma tool call)    %.2f ms\n", ms_since(t0));
  run("forced tool call (Gemma syntax)", *call, tok->encode(kGemmaDoc, true), bytes, vocab, repeats);
  return 0;
}
