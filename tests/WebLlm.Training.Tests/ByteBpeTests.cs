using System.Text;
using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Tests;

public sealed class ByteBpeTests(Gpt2Fixture gpt2) : IClassFixture<Gpt2Fixture>
{
    private static readonly string[] Specials = ["<|endoftext|>", "<|user|>", "<|assistant|>"];

    private static string Corpus => string.Concat(Enumerable.Repeat(TestData.Corpus + " 한국어 텍스트입니다. naïve café 🙂🙂 <|endoftext|>\n", 20));

    [Theory]
    [InlineData(ByteBpe.Gpt2Pattern)]
    [InlineData(ByteBpe.Gpt4Pattern)]
    public void The_same_text_and_settings_give_the_same_vocabulary_byte_for_byte(string pattern)
    {
        var a = BpeTrainer.Train([Corpus], 400, pattern, Specials);
        var b = BpeTrainer.Train([Corpus], 400, pattern, Specials);
        Assert.Equal(400, a.VocabSize);
        Assert.Equal(a.Vocabulary.Select(Convert.ToHexString), b.Vocabulary.Select(Convert.ToHexString));
        // The same pieces from two texts (two files) count as from one.
        string half = string.Concat(Enumerable.Repeat(TestData.Corpus + "<|endoftext|>", 10));
        Assert.Equal(BpeTrainer.Train([half + half], 400, pattern, Specials).Vocabulary.Select(Convert.ToHexString),
            BpeTrainer.Train([half, half], 400, pattern, Specials).Vocabulary.Select(Convert.ToHexString));
    }

    [Fact]
    public void Incremental_pair_counts_learn_the_merges_of_a_full_recount_per_merge()
    {
        var trained = BpeTrainer.Train([Corpus], 256 + 120, ByteBpe.Gpt2Pattern, []);
        Assert.Equal(NaiveMerges(Corpus, ByteBpe.Gpt2Pattern, 120), trained.Vocabulary.Skip(256).Select(Convert.ToHexString));
    }

    [Fact]
    public void Trained_tokens_compress_the_text_and_special_tokens_are_single_ids()
    {
        var bpe = BpeTrainer.Train([Corpus], 512, ByteBpe.Gpt2Pattern, Specials);
        int[] ids = bpe.Encode(TestData.Corpus);
        Assert.True(ids.Length * 2 < Encoding.UTF8.GetByteCount(TestData.Corpus), $"{ids.Length} tokens for {TestData.Corpus.Length} characters");
        Assert.Equal([bpe.Vocabulary.Count + 1], bpe.Encode("<|user|>"));
        int[] chat = bpe.Encode("<|user|>hi<|assistant|>");
        Assert.Equal(bpe.SpecialId("<|user|>"), chat[0]);
        Assert.Equal(bpe.SpecialId("<|assistant|>"), chat[^1]);
        Assert.Equal("<|user|>hi<|assistant|>", bpe.Decode(chat));
        Assert.Throws<ArgumentOutOfRangeException>(() => bpe.Decode([bpe.VocabSize]));
    }

    [Theory]
    [InlineData(ByteBpe.Gpt2Pattern, 1)]
    [InlineData(ByteBpe.Gpt4Pattern, 2)]
    public void Any_unicode_text_comes_back_byte_for_byte(string pattern, int seed)
    {
        var bpe = BpeTrainer.Train([Corpus], 600, pattern, Specials);
        var random = new Random(seed);
        // Letters of many scripts, Hangul syllables and jamo, combining marks, emoji with modifiers and joiners,
        // digits, whitespace runs, CR LF, punctuation, and text that looks like (half) a special token.
        string[] alphabet =
        [
            "a", "Z", "é", "ß", "Ω", "ж", "א", "ع", "न", "中", "日", "한", "글", "ᄀ", "ᅡ", "\u0301", "\u0308", "\u20DD",
            "🙂", "👍🏽", "👨‍👩‍👧", "🇰🇷", "𝔘", "𠀀", "0", "7", "٣", "½", " ", "  ", "\t", "\n", "\r\n", "\u00A0", "\u3000",
            "'s", "'LL", ".", ",", "!", "?", "-", "—", "<|", "|>", "<|endoftext", "<|user|>", "\u200B", "\uFEFF",
        ];
        for (int n = 0; n < 300; n++)
        {
            var text = string.Concat(Enumerable.Range(0, random.Next(0, 40)).Select(_ => alphabet[random.Next(alphabet.Length)]));
            var back = bpe.Decode(bpe.Encode(text));
            Assert.Equal(Convert.ToHexString(Encoding.UTF8.GetBytes(text)), Convert.ToHexString(Encoding.UTF8.GetBytes(back)));
        }
    }

    [Theory]
    [InlineData("Hello, world!")]
    [InlineData("  leading spaces,\ttabs\t\tand   runs   of spaces  ")]
    [InlineData("It's 2024: naïve café — 日本語 🙂 한국어<|endoftext|>The end.\n\n")]
    public void With_gpt2s_ranks_and_split_the_ids_are_openais(string text)
    {
        var bpe = new ByteBpe(Gpt2Tokenizer.TokenBytes(gpt2.Vocab.EncoderJson.Span), ByteBpe.Gpt2Pattern, ["<|endoftext|>"]);
        Assert.Equal(gpt2.Tokenizer.Encode(text), bpe.Encode(text));
        Assert.Equal(text, bpe.Decode(bpe.Encode(text)));
        Assert.Equal([15496, 11, 995, 0], new ByteBpe(Gpt2Tokenizer.TokenBytes(gpt2.Vocab.EncoderJson.Span), ByteBpe.Gpt2Pattern, []).Encode("Hello, world!"));
    }

    [Fact]
    public void Settings_that_cannot_make_a_tokenizer_are_refused()
    {
        Assert.Throws<ArgumentException>(() => BpeTrainer.Train([Corpus], 257, ByteBpe.Gpt2Pattern, Specials));
        Assert.Throws<ArgumentException>(() => new ByteBpe([.. Enumerable.Range(0, 255).Select(b => new[] { (byte)b })], ByteBpe.Gpt2Pattern, []));
    }

    [Fact]
    public void A_bpe_spec_round_trips_and_a_tampered_one_is_refused()
    {
        var trained = new BpeTokenizer(BpeTrainer.Train([Corpus], 300, ByteBpe.Gpt4Pattern, Specials));
        var json = System.Text.Json.JsonSerializer.Serialize(trained.Spec);
        var spec = System.Text.Json.JsonSerializer.Deserialize<TokenizerSpec>(json)!;
        var rebuilt = Tokenizer.Create(spec);
        Assert.Equal(trained.Encode(Corpus), rebuilt.Encode(Corpus));
        Assert.Equal(trained.EndOfText, rebuilt.EndOfText);

        // One rank's bytes changed (a corrupted meta.json or checkpoint): the recorded SHA-256 no longer matches.
        var lines = spec.Vocabulary!.Split('\n');
        lines[300 - 256] = Convert.ToBase64String("zz"u8.ToArray()) + " " + (300 - 256);
        var tampered = spec with { Vocabulary = string.Join('\n', lines) };
        Assert.Contains("SHA-256", Assert.Throws<InvalidDataException>(() => Tokenizer.Create(tampered)).Message);
        // Ranks out of order are refused too, even without a hash to check.
        var shuffled = spec with { Vocabulary = string.Join('\n', lines.Reverse()), Sha256 = null };
        Assert.Throws<InvalidDataException>(() => Tokenizer.Create(shuffled));
    }

    /// <summary>The textbook algorithm (minbpe's): recount every pair of every piece before each merge.</summary>
    private static List<string> NaiveMerges(string text, string pattern, int merges)
    {
        var words = System.Text.RegularExpressions.Regex.Matches(text, pattern)
            .Select(m => Encoding.UTF8.GetBytes(m.Value).Select(b => (int)b).ToList()).ToList();
        var vocabulary = Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToList();
        var result = new List<string>();
        for (int k = 0; k < merges; k++)
        {
            var counts = new Dictionary<(int, int), int>();
            foreach (var w in words)
                for (int i = 0; i + 1 < w.Count; i++) counts[(w[i], w[i + 1])] = counts.GetValueOrDefault((w[i], w[i + 1])) + 1;
            if (counts.Count == 0) break;
            var (a, b) = counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key.Item1).ThenBy(c => c.Key.Item2).First().Key;
            int id = vocabulary.Count;
            vocabulary.Add([.. vocabulary[a], .. vocabulary[b]]);
            result.Add(Convert.ToHexString(vocabulary[id]));
            foreach (var w in words)
                for (int i = 0; i + 1 < w.Count; i++)
                    if (w[i] == a && w[i + 1] == b) { w[i] = id; w.RemoveAt(i + 1); }
        }
        return result;
    }
}
