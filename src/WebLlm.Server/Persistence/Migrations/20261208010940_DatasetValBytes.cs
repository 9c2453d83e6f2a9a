using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace WebLlm.Server.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class DatasetValBytes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "ValBytes",
                table: "Datasets",
                type: "INTEGER",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "ValBytes",
                table: "Datasets");
        }
    }
}
