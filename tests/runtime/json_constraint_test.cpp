// The JSON Schema constraint, keyword by keyword: byte strings the automaton must accept (as a
// complete document) or refuse, written from the JSON Schema specification; declared property
// order, the whitespace bound, errors naming the keyword and its JSON pointer, the recursion limit,
// Gemma's native call syntax and forced tool calls read back by the output parser.
#include "runtime/json_constraint.h"

#include <gtest/gtest.h>

#include "runtime/output_parser.h"

namespace g4 {
namespace {

JsonConstraintOptions json_opts(int ws = 0, int depth = 32) {
  JsonConstraintOptions o;
  o.max_whitespace = ws;
  o.max_depth = depth;
  return o;
}

JsonConstraintOptions gemma_opts(int depth = 32) {
  JsonConstraintOptions o;
  o.syntax = JsonSyntax::Gemma;
  o.max_depth = depth;
  return o;
}

// The document `text` is accepted whole and is complete.
bool accepts(const std::string& schema, const std::string& text, const JsonConstraintOptions& o = {}) {
  auto c = JsonConstraint::from_schema_text(schema, o);
  const std::string bytes = o.syntax == JsonSyntax::Gemma ? gemma_to_constraint_bytes(text) : text;
  return c->accept_bytes(bytes) && c->is_complete();
}

// `text` is a valid prefix (not necessarily complete).
bool prefix_ok(const std::string& schema, const std::string& text, const JsonConstraintOptions& o = {}) {
  auto c = JsonConstraint::from_schema_text(schema, o);
  return c->can_accept(o.syntax == JsonSyntax::Gemma ? gemma_to_constraint_bytes(text) : text);
}

#define ACCEPT(schema, text) EXPECT_TRUE(accepts(schema, text)) << (schema) << " should accept " << (text)
#define REJECT(schema, text) EXPECT_FALSE(accepts(schema, text)) << (schema) << " should reject " << (text)

SchemaError compile_error(const std::string& schema) {
  try {
    JsonConstraint::from_schema_text(schema);
  } catch (const SchemaError& e) {
    return e;
  }
  ADD_FAILURE() << "no SchemaError for " << schema;
  return SchemaError("", "", "");
}

TEST(JsonSchemaKeywords, Type) {
  const char* integer = R"({"type":"integer"})";
  for (const char* t : {"0", "-7", "123", "999999999999999"}) ACCEPT(integer, t);
  for (const char* t : {"1.5", "\"1\"", "1e3", "01", "-", "+1", "", "true", "9999999999999999"}) REJECT(integer, t);
  const char* number = R"({"type":"number"})";
  for (const char* t : {"1.5", "-0.25", "1e3", "2E-7", "0", "-0"}) ACCEPT(number, t);
  for (const char* t : {"1.", ".5", "+1", "NaN", "0x10", "1e", "--1"}) REJECT(number, t);
  ACCEPT(R"({"type":"string"})", R"("abc")");
  ACCEPT(R"({"type":"string"})", R"("")");
  REJECT(R"({"type":"string"})", "abc");
  REJECT(R"({"type":"string"})", R"("a)");
  ACCEPT(R"({"type":"boolean"})", "true");
  ACCEPT(R"({"type":"boolean"})", "false");
  REJECT(R"({"type":"boolean"})", "True");
  REJECT(R"({"type":"boolean"})", "1");
  ACCEPT(R"({"type":"null"})", "null");
  REJECT(R"({"type":"null"})", "None");
  ACCEPT(R"({"type":"object"})", "{}");
  ACCEPT(R"({"type":"array"})", "[]");
  const char* str_or_null = R"({"type":["string","null"]})";
  ACCEPT(str_or_null, "null");
  ACCEPT(str_or_null, R"("x")");
  REJECT(str_or_null, "1");
  ACCEPT(R"({"type":"integer","nullable":true})", "null");  // OpenAPI 3.0
  REJECT(R"({"type":"integer","nullable":false})", "null");
}

TEST(JsonSchemaKeywords, EnumAndConst) {
  const char* e = R"({"enum":["red","green",1,null,{"a":[true]}]})";
  for (const char* t : {R"("red")", R"("green")", "1", "null", R"({"a":[true]})"}) ACCEPT(e, t);
  for (const char* t : {R"("blue")", "2", R"("re")", R"({"a":[false]})", "10"}) REJECT(e, t);
  ACCEPT(R"({"const":"x"})", R"("x")");
  REJECT(R"({"const":"x"})", R"("y")");
  ACCEPT(R"({"const":{"k":1}})", R"({"k":1})");
  // enum values must also satisfy the rest of the schema
  REJECT(R"({"type":"string","enum":["a",1]})", "1");
  ACCEPT(R"({"type":"string","enum":["a",1]})", R"("a")");
  REJECT(R"({"enum":["ab","abcd"],"maxLength":3})", R"("abcd")");
  // const inside enum: the intersection
  ACCEPT(R"({"enum":[1,2],"const":2})", "2");
  REJECT(R"({"enum":[1,2],"const":2})", "1");
  // prefixes of longer values: "1" then "12"
  ACCEPT(R"({"enum":[1,12]})", "1");
  ACCEPT(R"({"enum":[1,12]})", "12");
  REJECT(R"({"enum":[1,12]})", "123");
}

TEST(JsonSchemaKeywords, AnyOfOneOf) {
  const char* s = R"({"anyOf":[{"type":"integer"},{"type":"string","maxLength":2}]})";
  ACCEPT(s, "5");
  ACCEPT(s, R"("ab")");
  REJECT(s, R"("abc")");
  REJECT(s, "true");
  const char* tagged = R"({"oneOf":[
      {"type":"object","properties":{"kind":{"const":"cat"},"lives":{"type":"integer"}},"required":["kind"],"additionalProperties":false},
      {"type":"object","properties":{"kind":{"const":"dog"},"good":{"type":"boolean"}},"required":["kind"],"additionalProperties":false}],
      "discriminator":{"propertyName":"kind"}})";
  ACCEPT(tagged, R"({"kind":"cat","lives":9})");
  ACCEPT(tagged, R"({"kind":"dog","good":true})");
  REJECT(tagged, R"({"kind":"dog","lives":9})");
  REJECT(tagged, R"({"kind":"cow"})");
  // siblings of anyOf apply to every alternative
  const char* sib = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},
                       "anyOf":[{"required":["a"]},{"required":["b"]}]})";
  ACCEPT(sib, R"({"a":1})");
  ACCEPT(sib, R"({"b":1})");
  REJECT(sib, "{}");
  ACCEPT(R"({"anyOf":[{"type":"string"}],"nullable":true})", "null");
}

TEST(JsonSchemaKeywords, AllOfMerges) {
  const char* s = R"({"allOf":[
      {"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
      {"properties":{"b":{"type":"string"}},"required":["b"]}]})";
  ACCEPT(s, R"({"a":1,"b":"x"})");
  REJECT(s, R"({"a":1})");
  REJECT(s, R"({"a":"1","b":"x"})");
  const char* bounds = R"({"type":"integer","allOf":[{"minimum":0},{"maximum":10}]})";
  ACCEPT(bounds, "5");
  REJECT(bounds, "11");
  REJECT(bounds, "-1");
  // types intersect: number and integer give integer
  REJECT(R"({"allOf":[{"type":"number"},{"type":["integer","string"]}]})", "1.5");
  ACCEPT(R"({"allOf":[{"type":"number"},{"type":["integer","string"]}]})", "2");
  // additionalProperties:false of one member also rules out the other member's properties
  const char* closed = R"({"allOf":[{"properties":{"a":{}},"additionalProperties":false},{"properties":{"b":{}}}]})";
  ACCEPT(closed, R"({"a":1})");
  REJECT(closed, R"({"a":1,"b":2})");
  // Pydantic's field wrapper: allOf with one $ref plus a description
  const char* wrap = R"({"$defs":{"Color":{"enum":["red","blue"]}},"type":"object",
      "properties":{"c":{"allOf":[{"$ref":"#/$defs/Color"}],"description":"the color"}},"required":["c"]})";
  ACCEPT(wrap, R"({"c":"red"})");
  REJECT(wrap, R"({"c":"green"})");
}

TEST(JsonSchemaKeywords, RefDefsAndDefinitions) {
  const char* defs = R"({"$defs":{"P":{"type":"integer","minimum":1}},"type":"array","items":{"$ref":"#/$defs/P"}})";
  ACCEPT(defs, "[1,2]");
  REJECT(defs, "[0]");
  const char* old = R"({"definitions":{"S":{"type":"string"}},"$ref":"#/definitions/S"})";
  ACCEPT(old, R"("x")");
  REJECT(old, "1");
  // $ref beside other keywords (2019+): both apply
  ACCEPT(R"({"$defs":{"N":{"type":"integer"}},"$ref":"#/$defs/N","maximum":3})", "3");
  REJECT(R"({"$defs":{"N":{"type":"integer"}},"$ref":"#/$defs/N","maximum":3})", "4");
  // a recursive list
  const char* list = R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
      "next":{"$ref":"#/$defs/node"}},"required":["v"],"additionalProperties":false}},"$ref":"#/$defs/node"})";
  ACCEPT(list, R"({"v":1,"next":{"v":2,"next":{"v":3}}})");
  REJECT(list, R"({"v":1,"next":{}})");
}

TEST(JsonSchemaKeywords, PropertiesRequiredAdditional) {
  const char* closed = R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false})";
  ACCEPT(closed, R"({"a":1})");
  REJECT(closed, R"({"a":1,"z":2})");
  REJECT(closed, "{}");
  REJECT(closed, R"({"a":1,"a":2})");  // a property once
  const char* typed = R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"integer"}})";
  ACCEPT(typed, R"({"a":1,"z":2})");
  REJECT(typed, R"({"z":"s"})");
  const char* open = R"({"type":"object","properties":{"a":{"type":"integer"}}})";  // absent = true
  ACCEPT(open, R"({"a":1,"z":[null,{"q":"r"}]})");
  ACCEPT(open, R"({"z":1})");
  // a required name without a properties entry takes additionalProperties' schema
  ACCEPT(R"({"type":"object","required":["k"],"additionalProperties":{"type":"string"}})", R"({"k":"v"})");
  REJECT(R"({"type":"object","required":["k"],"additionalProperties":{"type":"string"}})", R"({"k":1})");
  // a key that spells a declared name is that property, even when written as an "other" key later
  REJECT(R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"string"}})",
         R"({"a":"x"})");
}

TEST(JsonSchemaKeywords, DeclaredPropertyOrder) {
  const char* s = R"({"type":"object","properties":{"zeta":{"type":"integer"},"alpha":{"type":"integer"},
                      "mid":{"type":"integer"}},"required":["alpha"]})";
  ACCEPT(s, R"({"zeta":1,"alpha":2})");
  ACCEPT(s, R"({"alpha":2,"mid":3})");  // optional ones may be skipped
  REJECT(s, R"({"alpha":2,"zeta":1})");  // not in declared order
  REJECT(s, R"({"mid":3,"alpha":2})");
  // the Json value (g4::Json keeps member order) compiles the same way as the text
  auto c = JsonConstraint::from_schema(Json::parse(s));
  EXPECT_TRUE(c->accept_bytes(R"({"zeta":1,"alpha":2})"));
  EXPECT_FALSE(JsonConstraint::from_schema(Json::parse(s))->can_accept(R"({"alpha":2,"zeta":)"));
  EXPECT_TRUE(JsonConstraint::from_schema(Json::parse(s))->can_accept(R"({"alpha":2,"zetas")"));  // another key
  // other keys come after the required ones
  const char* extra = R"({"type":"object","properties":{"a":{},"b":{}},"required":["b"]})";
  REJECT(extra, R"({"x":1,"b":2})");
  ACCEPT(extra, R"({"b":2,"x":1})");
}

TEST(JsonSchemaKeywords, NumericBounds) {
  const char* i = R"({"type":"integer","minimum":1,"maximum":10})";
  for (const char* t : {"1", "7", "10"}) ACCEPT(i, t);
  for (const char* t : {"0", "11", "-1", "100", "1.5"}) REJECT(i, t);
  EXPECT_TRUE(prefix_ok(i, "1"));
  EXPECT_FALSE(prefix_ok(i, "0"));    // refused on the byte, not at the end
  EXPECT_FALSE(prefix_ok(i, "100"));  // "10" could end, "100" cannot
  EXPECT_FALSE(prefix_ok(i, "-"));
  const char* ex = R"({"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1})";
  for (const char* t : {"0.5", "0.999", "0.001"}) ACCEPT(ex, t);
  for (const char* t : {"0", "1", "1.0", "-0.5", "0.0"}) REJECT(ex, t);
  const char* d4 = R"({"type":"integer","minimum":5,"exclusiveMinimum":true,"maximum":8,"exclusiveMaximum":true})";
  for (const char* t : {"6", "7"}) ACCEPT(d4, t);
  for (const char* t : {"5", "8"}) REJECT(d4, t);
  const char* neg = R"({"type":"integer","minimum":-5,"maximum":-2})";
  for (const char* t : {"-5", "-3", "-2"}) ACCEPT(neg, t);
  for (const char* t : {"-1", "-6", "0", "2"}) REJECT(neg, t);
  const char* frac = R"({"type":"number","minimum":0.1,"maximum":0.2})";
  for (const char* t : {"0.1", "0.15", "0.2", "0.10", "0.1999"}) ACCEPT(frac, t);
  for (const char* t : {"0.05", "0.25", "0.2001", "1e-1", "0"}) REJECT(frac, t);
  // a bound between grid points: integers above 2.5
  ACCEPT(R"({"type":"integer","minimum":2.5})", "3");
  REJECT(R"({"type":"integer","minimum":2.5})", "2");
  // big bounds
  ACCEPT(R"({"type":"integer","maximum":123456789012345})", "123456789012345");
  REJECT(R"({"type":"integer","maximum":123456789012345})", "123456789012346");
  // 1e15 would need 16 digits, more than an integer is written with
  EXPECT_THROW(JsonConstraint::from_schema_text(R"({"type":"integer","minimum":1e15})"), SchemaError);
}

TEST(JsonSchemaKeywords, StringLengths) {
  const char* s = R"({"type":"string","minLength":2,"maxLength":3})";
  ACCEPT(s, R"("ab")");
  ACCEPT(s, "\"h\xC3\xA9\xC3\xA9\"");  // 3 code points, 5 bytes
  ACCEPT(s, R"("a\n")");             // an escape is one character
  ACCEPT(s, R"("\u00e9x")");
  REJECT(s, R"("a")");
  REJECT(s, R"("abcd")");
  REJECT(s, "\"h\xC3\xA9\xC3\xA9\xC3\xA9\"");
  EXPECT_FALSE(prefix_ok(s, R"("abc\)"));  // a fourth character cannot start
}

TEST(JsonSchemaKeywords, Pattern) {
  ACCEPT(R"({"type":"string","pattern":"^[a-z]+$"})", R"("abc")");
  REJECT(R"({"type":"string","pattern":"^[a-z]+$"})", R"("ab1")");
  REJECT(R"({"type":"string","pattern":"^[a-z]+$"})", R"("")");
  ACCEPT(R"({"type":"string","pattern":"ab"})", R"("xxabyy")");  // a search
  REJECT(R"({"type":"string","pattern":"ab"})", R"("xy")");
  ACCEPT(R"({"type":"string","pattern":"^\\d{3}-\\d{4}$"})", R"("555-1234")");
  REJECT(R"({"type":"string","pattern":"^\\d{3}-\\d{4}$"})", R"("5555-123")");
  ACCEPT(R"({"type":"string","pattern":"^(cat|dog)s?$"})", R"("dogs")");
  REJECT(R"({"type":"string","pattern":"^(cat|dog)s?$"})", R"("cow")");
  ACCEPT(R"({"type":"string","pattern":"^.$"})", "\"\xC3\xA9\"");
  REJECT(R"({"type":"string","pattern":"^.$"})", R"("\n")");
  ACCEPT(R"({"type":"string","pattern":"^\\w+\\s\\w+$"})", R"("hello world")");
  ACCEPT(R"({"type":"string","pattern":"^\\w+\\s\\w+$"})", R"("hello\tworld")");  // decoded escape
  ACCEPT(R"({"type":"string","pattern":"^a\"b$"})", R"("a\"b")");
  REJECT(R"({"type":"string","pattern":"^a$"})", R"("\u0061")");  // no \u escapes under a pattern
  // pattern with lengths: completion must stay possible
  const char* pl = R"({"type":"string","pattern":"^a+$","maxLength":3})";
  ACCEPT(pl, R"("aaa")");
  REJECT(pl, R"("aaaa")");
  EXPECT_FALSE(prefix_ok(R"({"type":"string","pattern":"^(ab)+$","maxLength":3})", R"("aba)"));
  // unsupported regex constructs are errors naming "pattern"
  SchemaError e = compile_error(R"x({"type":"object","properties":{"p":{"type":"string","pattern":"(?=a)"}}})x");
  EXPECT_EQ(e.keyword, "pattern");
  EXPECT_EQ(e.pointer, "/properties/p/pattern");
  EXPECT_EQ(compile_error(R"({"pattern":"(a)\\1"})").keyword, "pattern");
}

TEST(JsonSchemaKeywords, Formats) {
  ACCEPT(R"({"type":"string","format":"date"})", R"("2024-02-29")");
  REJECT(R"({"type":"string","format":"date"})", R"("2023-02-29")");
  REJECT(R"({"type":"string","format":"date"})", R"("2023-04-31")");
  ACCEPT(R"({"type":"string","format":"time"})", R"("12:30:00Z")");
  ACCEPT(R"({"type":"string","format":"time"})", R"("12:30:00.5+02:00")");
  REJECT(R"({"type":"string","format":"time"})", R"("24:00:00Z")");
  ACCEPT(R"({"type":"string","format":"date-time"})", R"("2024-01-15T08:00:00Z")");
  REJECT(R"({"type":"string","format":"date-time"})", R"("2024-01-15")");
  ACCEPT(R"({"type":"string","format":"uuid"})", R"("123e4567-e89b-12d3-a456-426614174000")");
  REJECT(R"({"type":"string","format":"uuid"})", R"("123e4567")");
  ACCEPT(R"({"type":"string","format":"email"})", R"("a.b@example.com")");
  REJECT(R"({"type":"string","format":"email"})", R"("a.b.example.com")");
  ACCEPT(R"({"type":["string","null"],"format":"date"})", "null");
  SchemaError e = compile_error(R"({"type":"string","format":"uri"})");
  EXPECT_EQ(e.keyword, "format");
  EXPECT_EQ(e.pointer, "/format");
}

TEST(JsonSchemaKeywords, Items) {
  const char* s = R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2})";
  ACCEPT(s, "[1]");
  ACCEPT(s, "[1,2]");
  REJECT(s, "[]");
  REJECT(s, "[1,2,3]");
  REJECT(s, R"(["a"])");
  const char* tuple = R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false})";
  ACCEPT(tuple, R"(["a",1])");
  ACCEPT(tuple, R"(["a"])");
  REJECT(tuple, R"(["a",1,2])");
  REJECT(tuple, "[1]");
  const char* d7 = R"({"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"integer"}})";
  ACCEPT(d7, R"(["a",1,2])");
  REJECT(d7, R"(["a","b"])");
}

TEST(JsonSchemaKeywords, AnnotationsAreAllowed) {
  const char* s = R"({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"urn:x","title":"T",
      "description":"d","$comment":"c","type":"object","deprecated":false,"examples":[{}],"x-vendor":1,
      "properties":{"a":{"type":"string","default":"x","readOnly":true,"title":"A"}}})";
  ACCEPT(s, R"({"a":"y"})");
}

TEST(JsonSchemaErrors, NameTheKeywordAndItsPointer) {
  struct Case {
    const char* schema;
    const char* keyword;
    const char* pointer;
  };
  const Case cases[] = {
      {R"({"type":"object","properties":{"x":{"not":{"type":"string"}}}})", "not", "/properties/x/not"},
      {R"({"type":"object","foo":1})", "foo", "/foo"},
      {R"({"items":{"type":"array","uniqueItems":true}})", "uniqueItems", "/items/uniqueItems"},
      {R"({"type":"integer","multipleOf":3})", "multipleOf", "/multipleOf"},
      {R"({"patternProperties":{"^a":{}}})", "patternProperties", "/patternProperties"},
      {R"({"if":{},"then":{}})", "if", "/if"},
      {R"({"$ref":"http://example.com/s.json"})", "$ref", "/$ref"},
      {R"({"$ref":"#/$defs/missing"})", "$ref", "/$ref"},
      {R"({"properties":{"a/b":{"maxProperties":1}}})", "maxProperties", "/properties/a~1b/maxProperties"},
      {R"({"anyOf":[{"type":"string"},{"type":"strin"}]})", "type", "/anyOf/1/type"},
      {R"({"$defs":{"D":{"propertyNames":{}}},"$ref":"#/$defs/D"})", "propertyNames", "/$defs/D/propertyNames"},
      {R"({"minLength":-1})", "minLength", "/minLength"},
  };
  for (const Case& c : cases) {
    SchemaError e = compile_error(c.schema);
    EXPECT_EQ(e.keyword, c.keyword) << c.schema;
    EXPECT_EQ(e.pointer, c.pointer) << c.schema;
    EXPECT_NE(std::string(e.what()).find(c.keyword), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::string("#") + c.pointer), std::string::npos) << e.what();
  }
}

TEST(JsonSchemaErrors, Unsatisfiable) {
  EXPECT_THROW(JsonConstraint::from_schema_text(R"({"type":"string","minLength":3,"maxLength":2})"), SchemaError);
  EXPECT_THROW(JsonConstraint::from_schema_text(R"({"type":"array","minItems":2,"maxItems":1})"), SchemaError);
  EXPECT_THROW(JsonConstraint::from_schema_text(R"({"type":"integer","minimum":3,"maximum":2})"), SchemaError);
  EXPECT_THROW(JsonConstraint::from_schema_text(R"({"type":"string","pattern":"^a$","minLength":2})"), SchemaError);
  EXPECT_THROW(JsonConstraint::from_schema_text(R"({"type":"object","properties":{"a":false},"required":["a"]})"),
               SchemaError);
  EXPECT_THROW(JsonConstraint::from_schema_text("false"), SchemaError);
  EXPECT_THROW(JsonConstraint::from_schema_text(R"({"type":"string","enum":[1,2]})"), SchemaError);
  // a required self-reference has no finite instance
  EXPECT_THROW(JsonConstraint::from_schema_text(
                   R"({"$defs":{"n":{"type":"object","properties":{"c":{"$ref":"#/$defs/n"}},"required":["c"]}},"$ref":"#/$defs/n"})"),
               SchemaError);
  // a $ref cycle with nothing in between
  EXPECT_THROW(JsonConstraint::from_schema_text(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})"),
               SchemaError);
  EXPECT_THROW(JsonConstraint::from_schema_text("{not json"), SchemaError);
}

TEST(JsonConstraintLimits, WhitespaceIsBounded) {
  const char* s = R"({"type":"object","properties":{"a":{"type":"integer"}}})";
  EXPECT_TRUE(accepts(s, R"({"a":1})"));
  EXPECT_FALSE(accepts(s, R"({ "a":1})"));  // compact by default
  EXPECT_FALSE(accepts(s, "{\"a\":1}\n"));
  EXPECT_TRUE(accepts(s, R"({  "a" : 1 })", json_opts(2)));
  EXPECT_FALSE(accepts(s, R"({   "a":1})", json_opts(2)));
  auto c = JsonConstraint::from_schema_text(s);
  ASSERT_TRUE(c->accept_bytes(R"({"a":1})"));
  EXPECT_TRUE(c->must_end());
}

TEST(JsonConstraintLimits, RecursionStopsAtMaxDepth) {
  const char* tree = R"({"$defs":{"t":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array",
      "items":{"$ref":"#/$defs/t"}}},"required":["v"],"additionalProperties":false}},"$ref":"#/$defs/t"})";
  const auto o = json_opts(0, 3);
  EXPECT_TRUE(accepts(tree, R"({"v":1,"kids":[{"v":2}]})", o));     // depth 3
  EXPECT_FALSE(accepts(tree, R"({"v":1,"kids":[{"v":2,"kids":[]}]})", o));  // depth 4
  // at the limit the key that would go deeper is refused when it is written, not later
  EXPECT_FALSE(prefix_ok(tree, R"({"v":1,"kids":[{"v":2,")", o));
  EXPECT_TRUE(prefix_ok(tree, R"({"v":1,"kids":[{"v":2})", o));
  // plain nesting is bounded too
  EXPECT_TRUE(accepts("{}", "[[[1]]]", o));
  EXPECT_FALSE(accepts("{}", "[[[[1]]]]", o));
  // a schema that needs more depth than allowed is an error
  EXPECT_THROW(JsonConstraint::from_schema_text(R"({"type":"array","minItems":1,"items":{"type":"array","minItems":1,
      "items":{"type":"array","minItems":1,"items":{"type":"array"}}}})", o), SchemaError);
}

TEST(JsonConstraintText, ControlMarkersCannotBeSpelled) {
  const char* s = R"({"type":"string"})";
  EXPECT_FALSE(accepts(s, R"("x<|channel>y")"));
  EXPECT_FALSE(accepts(s, R"("<turn|>")"));
  EXPECT_FALSE(accepts(s, R"("a<|tool_call>b")"));
  EXPECT_TRUE(accepts(s, R"("a<|chan b <turn| >")"));
  EXPECT_FALSE(accepts(R"({"type":"object"})", R"({"<|tool_call>":1})"));
  // Gemma: only the string delimiter matters inside strings
  const char* g = R"({"type":"object","properties":{"s":{"type":"string"}}})";
  auto c = JsonConstraint::from_schema_text(g, gemma_opts());
  ASSERT_TRUE(c->accept_bytes(gemma_to_constraint_bytes("{s:<|\"|>a<|channel>")));
  EXPECT_TRUE(c->can_accept("<|\"|"));
  EXPECT_FALSE(c->can_accept("<|\"|>"));  // spelled out with ordinary tokens
  EXPECT_TRUE(c->can_accept("\xFF}"));    // the delimiter token
}

TEST(JsonConstraintText, AnyObject) {
  auto fresh = [] { return JsonConstraint::any_object(); };
  EXPECT_TRUE(fresh()->accept_bytes(R"({"a":[1,{"b":null}],"c":"\u00e9\n"})"));
  EXPECT_FALSE(fresh()->can_accept("[1]"));
  EXPECT_FALSE(fresh()->can_accept(R"({"a":"\ud800"})"));  // a lone surrogate
  EXPECT_FALSE(fresh()->can_accept("{\"a\":\"\x01\"}"));    // raw control byte
  EXPECT_FALSE(fresh()->can_accept("{\"a\":\"\xC3(\"}"));   // invalid UTF-8
  EXPECT_FALSE(fresh()->can_accept("{\"a\":\"\xD9\\"));      // an escape inside a character
  auto c = fresh();
  EXPECT_TRUE(c->accept_bytes("{\"a\":1"));
  EXPECT_FALSE(c->is_complete());
  EXPECT_FALSE(c->accept_bytes("]"));
  EXPECT_TRUE(c->accept_bytes("}"));
  EXPECT_TRUE(c->is_complete());
}

TEST(GemmaSyntax, ArgumentsInTemplateOrder) {
  const char* s = R"({"type":"object","properties":{"days":{"type":"integer","minimum":1,"maximum":7},
      "City":{"type":"string"},"units":{"enum":["metric","imperial"]}},"required":["City"]})";
  const auto o = gemma_opts();
  // dictsort is case-insensitive: City, days, units
  EXPECT_TRUE(accepts(s, "{City:<|\"|>Paris<|\"|>,days:3,units:<|\"|>metric<|\"|>}", o));
  EXPECT_TRUE(accepts(s, "{City:<|\"|>Paris<|\"|>}", o));
  EXPECT_FALSE(accepts(s, "{days:3,City:<|\"|>Paris<|\"|>}", o));
  EXPECT_FALSE(accepts(s, "{City:<|\"|>Paris<|\"|>,days:8}", o));
  EXPECT_FALSE(accepts(s, "{\"City\":\"Paris\"}", o));  // not JSON
  EXPECT_FALSE(accepts(s, "{City:<|\"|>Paris<|\"|>,units:<|\"|>kelvin<|\"|>}", o));
  EXPECT_FALSE(accepts(s, "{ City:<|\"|>Paris<|\"|>}", o));  // no free whitespace
  // a key a bare key cannot spell is quoted; nested objects and arrays
  const char* n = R"({"type":"object","properties":{"a:b":{"type":"integer"},"list":{"type":"array","items":
      {"type":"object","properties":{"y":{"type":"boolean"},"x":{"type":"null"}}}}},"required":["a:b"]})";
  EXPECT_TRUE(accepts(n, "{<|\"|>a:b<|\"|>:1,list:[{x:null,y:true},{}]}", o));
  EXPECT_FALSE(accepts(n, "{<|\"|>a:b<|\"|>:1,list:[{y:true,x:null}]}", o));
  // other keys are bare
  EXPECT_TRUE(accepts(R"({"type":"object"})", "{any_key:[1,<|\"|>two<|\"|>]}", o));
  EXPECT_FALSE(accepts(R"({"type":"object"})", "{bad key:1}", o));
}

TEST(GemmaSyntax, ToolCallsReadBackByTheOutputParser) {
  std::vector<ToolSchema> tools = {
      {"get", Json::parse(R"({"type":"object","properties":{}})")},
      {"get_weather", Json::parse(R"({"type":"object","properties":{"city":{"type":"string","pattern":"^[A-Z][a-z]+$"},
          "days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"]})")},
  };
  auto fresh = [&] { return JsonConstraint::tool_call(tools, gemma_opts()); };
  const std::string call = "call:get_weather{city:<|\"|>Paris<|\"|>,days:7}";
  auto c = fresh();
  ASSERT_TRUE(c->accept_bytes(gemma_to_constraint_bytes(call)));
  EXPECT_TRUE(c->is_complete());
  EXPECT_TRUE(c->must_end());
  ParsedOutput out = parse_output("<|tool_call>" + call + "<tool_call|><|tool_response>");
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].name, "get_weather");
  EXPECT_EQ(Json::parse(out.tool_calls[0].arguments_json), Json::parse(R"({"city":"Paris","days":7})"));
  EXPECT_TRUE(fresh()->accept_bytes("call:get{}"));
  EXPECT_FALSE(fresh()->can_accept("call:other"));
  EXPECT_FALSE(fresh()->can_accept(gemma_to_constraint_bytes("call:get_weather{city:<|\"|>paris")));
  EXPECT_FALSE(fresh()->can_accept(gemma_to_constraint_bytes("call:get_weather{city:<|\"|>Paris<|\"|>,days:0")));
  EXPECT_FALSE(fresh()->can_accept(gemma_to_constraint_bytes("call:get_weather{city:<|\"|>Paris<|\"|>}")));
  // errors say which tool
  std::vector<ToolSchema> bad = {tools[0], {"t2", Json::parse(R"({"type":"object","properties":{"q":{"not":{}}}})")}};
  try {
    JsonConstraint::tool_call(bad, gemma_opts());
    ADD_FAILURE() << "no error";
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.tool, 1);
    EXPECT_EQ(e.keyword, "not");
    EXPECT_EQ(e.pointer, "/properties/q/not");
  }
  // parameters that allow no object cannot be called
  EXPECT_THROW(JsonConstraint::tool_call({{"s", Json::parse(R"({"type":"string"})")}}, gemma_opts()), SchemaError);
}

}  // namespace
}  // namespace g4
