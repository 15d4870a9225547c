// ChatFormat under a server's bounds: prompts that cannot fit are refused before they are tokenized
// whole, template work is capped, the byte-length lower bound on token counts holds, and renders run
// concurrently without a lock.
#include <gtest/gtest.h>

#include <thread>

#include "core/mapped_file.h"
#include "runtime/chat.h"
#include "test_util.h"

namespace g4 {
namespace {

const ChatFormat& format() {
  static std::unique_ptr<ChatFormat> f = [] {
    std::shared_ptr<const Tokenizer> tok = Tokenizer::load(test::shared_dir() + "/fixtures/tokenizer/gemma4-vocab.gguf");
    return std::make_unique<ChatFormat>(tok, read_text_file(test::shared_dir() + "/fixtures/chat/gemma4-31b-it.jinja"),
                                        "gemma4-31b-it.jinja");
  }();
  return *f;
}

Json conversation(const std::string& user_text) {
  return Json::array({{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", user_text}}});
}

TEST(ChatBounds, TokenCountLowerBoundHolds) {
  const ChatFormat& f = format();
  ASSERT_GT(f.max_token_bytes(), 1u);
  // No token is longer than max_token_bytes, so no text has fewer tokens than the bound.
  for (const std::string& text : {std::string("Hello world"), std::string(5000, ' '), std::string(3000, 'a'),
                                  std::string("\xE4\xBD\xA0\xE5\xA5\xBD") + std::string(200, '=') + "<|turn>x",
                                  std::string(1000, '\n')}) {
    std::vector<int32_t> ids = f.tokenizer().encode(text);
    EXPECT_LE(f.min_tokens(text), int64_t(ids.size())) << text.substr(0, 40);
  }
  for (int32_t id = 0; id < f.tokenizer().vocab_size(); id += 97)
    ASSERT_LE(f.tokenizer().token_bytes(id).size(), f.max_token_bytes());
}

TEST(ChatBounds, PromptTooLongIsRefusedWithALowerBound) {
  const ChatFormat& f = format();
  ChatOptions o;
  const std::vector<int32_t> small = f.prompt_ids(conversation("Hi"), Json::array(), o);
  o.max_prompt_tokens = int64_t(small.size());
  EXPECT_EQ(f.prompt_ids(conversation("Hi"), Json::array(), o), small);  // exactly at the limit is fine
  o.max_prompt_tokens = int64_t(small.size()) - 1;
  try {
    f.prompt_ids(conversation("Hi"), Json::array(), o);
    FAIL() << "a prompt over the limit was accepted";
  } catch (const PromptTooLong& e) {
    EXPECT_GT(e.min_tokens, o.max_prompt_tokens);
  }
  // 2 MB of user text against 1000 tokens: the template's output cap stops the render itself.
  o.max_prompt_tokens = 1000;
  try {
    f.prompt_ids(conversation(std::string(2u << 20, 'x')), Json::array(), o);
    FAIL() << "a huge prompt was accepted";
  } catch (const PromptTooLong& e) {
    EXPECT_GT(e.min_tokens, 1000);
  }
  // Special-token strings typed by a user stay text and still count within the bound.
  std::string specials;
  for (int i = 0; i < 300; ++i) specials += "<|turn>";
  o.max_prompt_tokens = 4096;
  std::vector<int32_t> ids = f.prompt_ids(conversation(specials), Json::array(), o);
  EXPECT_LE(int64_t(ids.size()), o.max_prompt_tokens);
}

TEST(ChatBounds, TemplateStepsAreCapped) {
  const ChatFormat& f = format();
  Json msgs = Json::array();
  for (int i = 0; i < 50; ++i) {
    msgs.push_back({{"role", "user"}, {"content", "question " + std::to_string(i)}});
    msgs.push_back({{"role", "assistant"}, {"content", "answer " + std::to_string(i)}});
  }
  msgs.push_back({{"role", "user"}, {"content", "last"}});
  ChatOptions o;
  o.max_prompt_tokens = 100000;
  EXPECT_NO_THROW(f.prompt_ids(msgs, Json::array(), o));
  o.max_template_steps = 200;
  try {
    f.prompt_ids(msgs, Json::array(), o);
    FAIL() << "a render past the step cap succeeded";
  } catch (const PromptTooLong&) {
    FAIL() << "a step cap is not a length problem";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_TRUE(m.find("step limit") != std::string::npos || m.find("loop iteration limit") != std::string::npos) << m;
  }
}

TEST(ChatBounds, ConcurrentRendersMatchSerialOnes) {
  const ChatFormat& f = format();
  std::vector<Json> convs;
  std::vector<std::vector<int32_t>> want;
  for (int i = 0; i < 8; ++i) {
    convs.push_back(conversation("Conversation " + std::to_string(i) + ": " + std::string(size_t(50 * i), 'z')));
    want.push_back(f.prompt_ids(convs.back(), Json::array(), ChatOptions{}));
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = 0; i < convs.size(); ++i)
          if (f.prompt_ids(convs[(i + size_t(t)) % convs.size()], Json::array(), ChatOptions{}) != want[(i + size_t(t)) % convs.size()])
            ++mismatches[size_t(t)];
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(ChatBounds, ReasoningPromptAndToolCallToken) {
  const ChatFormat& f = format();
  std::vector<int32_t> ids = f.prompt_ids(conversation("Hi"), Json::array(), ChatOptions{});
  EXPECT_FALSE(f.opens_reasoning(ids));
  std::vector<int32_t> thought = f.tokenizer().encode(gemma4::kThoughtChannel, /*parse_special=*/true);
  ids.insert(ids.end(), thought.begin(), thought.end());
  EXPECT_TRUE(f.opens_reasoning(ids));
  auto tc = f.tool_call_token();
  ASSERT_TRUE(tc.has_value());
  EXPECT_EQ(f.tokenizer().token_bytes(*tc), gemma4::kToolCallOpen);
}

}  // namespace
}  // namespace g4
