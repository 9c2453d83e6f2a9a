using WebLlm.Training.Model;
using WebLlm.Training.Sampling;

namespace WebLlm.Training.Tests;

public class SamplerGpt2Tests(Gpt2Fixture gpt2) : IClassFixture<Gpt2Fixture>
{
    [Fact]
    public void Streamed_pieces_never_split_a_character_and_add_up_to_the_decoded_text()
    {
        // An untrained model over GPT-2's vocabulary picks byte tokens that split UTF-8 characters all the time.
        using var model = new Gpt(new GptConfig { NLayer = 1, NHead = 2, NEmbd = 16, BlockSize = 32, VocabSize = 50257 }, seed: 4);
        using var sampler = new Sampler(model, gpt2.Tokenizer);
        var tokens = sampler
            .Generate("日本語 🙂", new SamplingOptions { MaxNewTokens = 60, Temperature = 1.5, TopK = 0, Seed = 11, TopLogProbs = 3 })
            .ToList();
        string whole = gpt2.Tokenizer.Decode(tokens.Select(t => t.Id).ToArray());
        Assert.Equal(whole.TrimEnd('\uFFFD'), string.Concat(tokens.Select(t => t.Text)).TrimEnd('\uFFFD'));
        // Every streamed prefix is final: a replacement character shown early would differ from the final text.
        string streamed = "";
        foreach (var t in tokens)
        {
            streamed += t.Text;
            Assert.StartsWith(streamed, whole, StringComparison.Ordinal);
        }
        Assert.All(tokens, t =>
        {
            Assert.Equal(3, t.Top!.Count);
            Assert.True(t.Top[0].LogProb >= t.Top[1].LogProb && t.Top[1].LogProb >= t.Top[2].LogProb);
            Assert.True(t.LogProb <= 0);
        });
    }

    [Fact]
    public void Without_the_kv_cache_the_text_is_the_same()
    {
        using var model = new Gpt(new GptConfig { NLayer = 2, NHead = 2, NEmbd = 32, BlockSize = 24, VocabSize = 50257 }, seed: 6);
        using var sampler = new Sampler(model, gpt2.Tokenizer);
        var o = new SamplingOptions { MaxNewTokens = 16, Temperature = 0 };
        Assert.Equal(sampler.Generate("Hello", o).Select(t => t.Id), sampler.Generate("Hello", o with { UseKvCache = false }).Select(t => t.Id));
    }
}
