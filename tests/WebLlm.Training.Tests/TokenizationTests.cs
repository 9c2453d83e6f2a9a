using System.Text.Json;
using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Tests;

public sealed class TokenizationTests(Gpt2Fixture gpt2) : IClassFixture<Gpt2Fixture>
{
    // Expected ids come from OpenAI's encoder.py (gpt-2 repo) run on the same encoder.json / vocab.bpe.
    [Theory]
    [InlineData("Hello, world!", new[] { 15496, 11, 995, 0 })]
    [InlineData(" the", new[] { 262 })]
    [InlineData("<|endoftext|>", new[] { 50256 })]
    [InlineData("a<|endoftext|>b", new[] { 64, 50256, 65 })]
    [InlineData("  two  spaces\n\nnewline", new[] { 220, 734, 220, 9029, 198, 198, 3605, 1370 })]
    [InlineData("\tif (x)\n\t\t\treturn    y;", new[] { 197, 361, 357, 87, 8, 198, 197, 197, 197, 7783, 220, 220, 220, 331, 26 })]
    [InlineData("it's we'll they've I'M don't", new[] { 270, 338, 356, 1183, 484, 1053, 314, 6, 44, 836, 470 })]
    [InlineData("naïve 日本語 🙂", new[] { 2616, 38776, 10545, 245, 98, 17312, 105, 45739, 252, 32485 })]
    public void Gpt2_ids_equal_openai(string text, int[] expected)
    {
        Assert.Equal(expected, gpt2.Tokenizer.Encode(text));
    }

    [Theory]
    [InlineData("naïve 日本語 🙂")]
    [InlineData("  leading and trailing  \r\n\t ")]
    [InlineData("Ünïcödé ÀÉÎ ñ ç ß 𝐀𝐁𝐂 a\u00a0b <|endoftext|> end")]
    [InlineData("")]
    public void Gpt2_round_trips(string text)
    {
        var tokenizer = gpt2.Tokenizer;
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void Gpt2_describes_itself()
    {
        Tokenizer tokenizer = Tokenizer.Create(TokenizerSpec.Gpt2, gpt2.Vocab);
        Assert.Equal("gpt2", tokenizer.Kind);
        Assert.Equal(50257, tokenizer.VocabSize);
        Assert.Equal(50256, tokenizer.EndOfText);
        Assert.Equal(TokenizerSpec.Gpt2, tokenizer.Spec);
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([50257]));
    }

    [Fact]
    public void Gpt2_needs_the_vocabulary_files()
    {
        var error = Assert.Throws<ArgumentException>(() => Tokenizer.Create(TokenizerSpec.Gpt2));
        Assert.Contains("Gpt2Vocab", error.Message);
    }

    [Fact]
    public void Char_vocabulary_is_the_sorted_distinct_characters()
    {
        var tokenizer = CharTokenizer.FromCorpus("hello world\n");
        Assert.Equal("\n dehlorw", tokenizer.Spec.Vocabulary);
        Assert.Equal(9, tokenizer.VocabSize);
        Assert.Null(tokenizer.EndOfText);
        Assert.Equal([4, 3, 5, 5, 6], tokenizer.Encode("hello"));
    }

    [Fact]
    public void Char_round_trips_and_rebuilds_from_its_spec()
    {
        const string text = "naïve 日本語 🙂\nTo be, or not to be";
        var tokenizer = CharTokenizer.FromCorpus(text);
        var rebuilt = Tokenizer.Create(tokenizer.Spec);
        Assert.Equal(text, rebuilt.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void Char_unknown_character_names_it_and_its_position()
    {
        var tokenizer = CharTokenizer.FromCorpus("abc");
        var error = Assert.Throws<ArgumentException>(() => tokenizer.Encode("abxc"));
        Assert.Contains("'x'", error.Message);
        Assert.Contains("position 2", error.Message);
    }

    [Fact]
    public void Spec_serializes_as_camel_case_json()
    {
        var json = JsonSerializer.Serialize(TokenizerSpec.Char("ab"));
        Assert.Equal("""{"kind":"char","vocabulary":"ab"}""", json);
        Assert.Equal(TokenizerSpec.Char("ab"), JsonSerializer.Deserialize<TokenizerSpec>(json));
    }

    [Fact]
    public void Unknown_kind_is_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => Tokenizer.Create(new TokenizerSpec("word", null)));
        Assert.Contains("word", error.Message);
    }
}
