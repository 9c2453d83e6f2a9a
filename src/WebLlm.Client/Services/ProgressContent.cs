using System.Net;

namespace WebLlm.Client.Services;

/// <summary>Wraps request content and reports the fraction of its bytes written so far (0…1).</summary>
public sealed class ProgressContent : HttpContent
{
    private const int ChunkSize = 64 * 1024;
    private readonly HttpContent inner;
    private readonly IProgress<double> progress;

    public ProgressContent(HttpContent inner, IProgress<double> progress)
    {
        this.inner = inner;
        this.progress = progress;
        foreach (var header in inner.Headers)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        var source = await inner.ReadAsStreamAsync();
        var total = inner.Headers.ContentLength ?? (source.CanSeek ? source.Length : 0);
        var buffer = new byte[ChunkSize];
        long sent = 0;
        int read;
        while ((read = await source.ReadAsync(buffer)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, read));
            sent += read;
            if (total > 0)
            {
                progress.Report(Math.Min(1.0, (double)sent / total));
            }
        }
        progress.Report(1.0);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = inner.Headers.ContentLength ?? -1;
        return length >= 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
